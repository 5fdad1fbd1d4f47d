"""What monocular 3D joints cost the labels: motion-capture clips reduced to what the camera
node gives, through the node's preprocessing, against the same clips clean.

A camera skeleton differs from motion capture in ways measured here and in ways that cannot be:
- measured and applied, one step at a time (each row adds one to the row above):
  MediaPipe's joint set (the `mediapipe33` layout's canonical joints: no pelvis, spine, chest,
  neck or clavicles), a camera's frame rate, the per-joint jitter and the jitter of the placed
  hip centre that the camera pipeline shows on the real test video (`emotion-node bench camera
  --noise`), and the hip-centred alternative (`camera.placement: root_locked`, no travel);
- not measurable without motion capture of the same people: the model's systematic pose errors
  (depth of arms in front of the body, bent knees read straight), so the rows are a lower bound
  of the cost, and the jitter is iid per frame where the camera's is correlated over frames.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Sequence, Tuple

import numpy as np

from emotion_node.evaluation.evaluate import window_logits
from emotion_node.skeleton.damage import TrackerDamage, damage_stream
from emotion_node.skeleton.layouts import layout_presence
from emotion_node.skeleton.preprocess import preprocess_batch, stream_windows
from emotion_node.training.data import ClipRecord, root_lock

STEPS = ('clean', 'mediapipe joints', '+ camera rate', '+ joint jitter', '+ hip-centre jitter',
         'root-locked instead', 'test video rate (10 Hz)', '5x the measured jitter')


@dataclass(frozen=True)
class CameraNoise:
    """Noise of the camera skeletons, per camera frame (measured on the test video)."""

    joint_jitter_m: float                      # per joint, per axis (standard deviation)
    root_jitter_m: Tuple[float, float, float]  # hip centre: lateral, vertical, depth
    rate_hz: float = 30.0                      # a live camera's frame rate
    video_rate_hz: float = 10.0                # the test video's


def _root_noise(n: int, noise: CameraNoise, scale: float, rng: np.random.Generator
                ) -> np.ndarray:
    """(n, 1, 3) hip-centre offsets in the Z-up canonical frame, depth along a random
    horizontal direction (where the camera stood is unknown for motion capture)."""
    angle = rng.uniform(0, 2 * np.pi)
    depth, lateral = np.array([np.cos(angle), np.sin(angle), 0.0]), \
        np.array([-np.sin(angle), np.cos(angle), 0.0])
    lat_sd, up_sd, depth_sd = (scale * s for s in noise.root_jitter_m)
    out = (rng.normal(0, lat_sd, (n, 1)) * lateral + rng.normal(0, depth_sd, (n, 1)) * depth +
           rng.normal(0, up_sd, (n, 1)) * np.array([0.0, 0.0, 1.0]))
    return out[:, None, :]


def degrade(record: ClipRecord, step: str, noise: CameraNoise, rng: np.random.Generator
            ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stamps, positions, mask) of a clip as the camera node would give it, up to `step`."""
    if step not in STEPS:
        raise ValueError(f'unknown step {step!r}; known: {STEPS}')
    stamps = np.arange(len(record.positions)) / record.fps
    positions, mask = record.positions, record.mask
    k = STEPS.index(step)
    if k == 0:
        return stamps, positions, mask
    mask = mask & layout_presence('mediapipe33')[None, :]
    if k >= 2:
        rate = noise.video_rate_hz if step == 'test video rate (10 Hz)' else noise.rate_hz
        scale = 5.0 if step == '5x the measured jitter' else 1.0
        jitter = noise.joint_jitter_m * scale if k >= 3 else 0.0
        stamps, positions, mask = damage_stream(
            stamps, positions, mask, TrackerDamage(rate_hz=rate, jitter_m=jitter), rng)
        if step == 'root-locked instead':
            positions, mask = _lock_hips(positions, mask)
        elif k >= 4:
            positions = np.where(mask[..., None], positions + _root_noise(
                len(positions), noise, scale, rng), 0.0).astype(np.float32)
    return stamps, positions, mask


def _lock_hips(positions: np.ndarray, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Hip centre held at the origin (the canonical pelvis is absent from MediaPipe's joints:
    its stand-in is the mean of the two hips, as the pose model's world landmarks are)."""
    from emotion_node.skeleton.layouts import CANONICAL_INDEX
    hips = [CANONICAL_INDEX['hip_l'], CANONICAL_INDEX['hip_r']]
    with_pelvis = positions.copy()
    with_pelvis[:, CANONICAL_INDEX['pelvis']] = positions[:, hips].mean(axis=1)
    pelvis_mask = mask.copy()
    pelvis_mask[:, CANONICAL_INDEX['pelvis']] = mask[:, hips].all(axis=1)
    locked, locked_mask = root_lock(with_pelvis, pelvis_mask)
    locked_mask[:, CANONICAL_INDEX['pelvis']] = False  # still not a joint the camera gives
    return locked, locked_mask & mask


def study(model: Any, config: Any, records: Sequence[ClipRecord], noise: CameraNoise,
          seed: int = 0) -> Dict[str, Any]:
    """Window accuracy and agreement with the clean labels per step; damage drawn per clip
    from `seed` (every step sees the same clips)."""
    labels = list(config.labels)
    clean: Dict[int, np.ndarray] = {}  # clip -> its clean windows' labels
    rows = []
    for step in STEPS:
        hits, agree = [], []
        for i, record in enumerate(records):
            windows, masks, _ = stream_windows(*degrade(record, step, noise,
                                                        np.random.default_rng([seed, i])),
                                               config.preprocess)
            if not len(windows):
                continue
            pred = window_logits(model, *preprocess_batch(windows, masks,
                                                          config.preprocess)).argmax(1)
            clean.setdefault(i, pred)  # the first step is the clean one
            n = min(len(clean[i]), len(pred))  # another rate may cut a window more or less
            hits.append(pred == labels.index(record.info.emotion))
            agree.append(pred[-n:] == clean[i][-n:])  # windows aligned at the clip's end
        rows.append({'step': step, 'windows': int(sum(len(h) for h in hits)),
                     'window_accuracy': float(np.mean(np.concatenate(hits))),
                     'agreement_with_clean': float(np.mean(np.concatenate(agree)))})
    return {'seed': seed, 'clips': len(records), 'noise': asdict(noise), 'rows': rows}


def markdown(result: Dict[str, Any]) -> str:
    """The study as the table EVALUATION.md quotes."""
    lines = ['| camera skeleton, step by step | windows | window acc % | same label as clean % |',
             '| --- | --- | --- | --- |']
    for r in result['rows']:
        lines.append(f'| {r["step"]} | {r["windows"]} | {100 * r["window_accuracy"]:.1f} | '
                     f'{100 * r["agreement_with_clean"]:.1f} |')
    return '\n'.join(lines)
