"""Training and evaluation windows from dataset clips, with task-respecting augmentation.

Raw clips stay in memory at their source rate; a training sample is cut at a random time (and a
random playback speed), masked like another tracker or a flaky one, then passed through the one
preprocessing function the node uses (`preprocess_window`), then rotated, scaled or mirrored.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from emotion_node.skeleton.damage import (
    DamageAugment, TrackerDamage, damage_stream, random_damage)
from emotion_node.skeleton.dataset import ClipInfo, load_clip
from emotion_node.skeleton.layouts import CANONICAL_INDEX, CANONICAL_JOINTS, layout_presence
from emotion_node.skeleton.preprocess import (
    PreprocessConfig, clip_windows, preprocess_batch, preprocess_window, resample,
    stream_windows)

# Person's left <-> right: the joint permutation of a mirrored body.
MIRROR_INDEX = np.array([
    CANONICAL_INDEX[n[:-2] + ("_r" if n.endswith("_l") else "_l")] if n[-2:] in ("_l", "_r")
    else i for i, n in enumerate(CANONICAL_JOINTS)])


@dataclass
class AugmentConfig:
    """Augmentation strengths; every probability is per training sample."""

    time_warp: float = 0.15         # playback speed drawn from 1 +- this
    rotate_deg: float = 20.0        # residual heading error after normalisation, +- degrees
    scale: float = 0.1              # body-scale error, 1 +- this
    mirror_p: float = 0.5           # swap left and right (emotion does not depend on the side)
    reverse_p: float = 0.5          # play the window backwards (posture and energy survive)
    mix_p: float = 0.3              # blend with a window of the same class from another clip
    layout_p: float = 0.3           # keep only the joints of another tracker layout
    layouts: Tuple[str, ...] = ("k4abt", "zed_body18", "kinect_v2", "coco17", "mediapipe33")
    joint_dropout_p: float = 0.3    # drop random joints for the whole window
    joint_dropout_rate: float = 0.1
    frame_dropout_rate: float = 0.05  # lost frames, on samples with joint dropout
    lead_crop_p: float = 0.2        # mask a warm-up prefix, so padding never tells the class
    tracker_p: float = 0.4          # damage the raw stream like a tracker (skeleton.damage)
    tracker_lower_body_p: float = 0.75  # of damaged windows: legs out of view (a robot up
    # close sees the upper body only; at 0.25 that case still cost 10 points)
    # Remove the path through the room (root held at the origin, as Emotion-Gait's gaits are),
    # so emotion is read from the body's own motion as well as from travel.
    root_lock_p: float = 0.3

    @property
    def tracker(self) -> DamageAugment:
        """The tracker-damage strengths."""
        return DamageAugment(p=self.tracker_p, lower_body_p=self.tracker_lower_body_p)

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        out = asdict(self)
        out["layouts"] = list(self.layouts)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "AugmentConfig":
        """Inverse of `to_dict`."""
        data = dict(data)
        if "layouts" in data:
            data["layouts"] = tuple(data["layouts"])
        data.setdefault("root_lock_p", 0.0)  # recipes recorded before it never root-locked
        return cls(**data)


@dataclass
class ClipRecord:
    """One clip in memory with its labels."""

    info: ClipInfo
    positions: np.ndarray  # (N, 21, 3) canonical metres at the source rate
    mask: np.ndarray       # (N, 21)
    fps: float

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame."""
        return (self.positions.shape[0] - 1) / self.fps


def load_records(clips: Sequence[ClipInfo], cache_dir: Optional[Path] = None) -> List[ClipRecord]:
    """Load every clip (through the dataset's npz cache)."""
    records = []
    for info in clips:
        positions, mask, fps = load_clip(info, cache_dir=cache_dir)
        records.append(ClipRecord(info, positions, mask, float(fps)))
    return records


def raw_eval_windows(record: ClipRecord, config: PreprocessConfig,
                     stride_s: float = 0.5) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sliding raw windows of a clip, exactly as evaluation and the node see it."""
    return clip_windows(record.positions, record.mask, record.fps, config, stride_s=stride_s)


def eval_windows(record: ClipRecord, config: PreprocessConfig, stride_s: float = 0.5,
                 presence: Optional[np.ndarray] = None, damage: Optional[TrackerDamage] = None,
                 seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Preprocessed windows (W, T, 21, 3) and masks of a clip, optionally on a joint subset or
    through a tracker's damage (drawn from `seed`, so every model sees the same damage)."""
    if damage is None:
        windows, masks, _ = raw_eval_windows(record, config, stride_s)
    else:
        stamps, positions, mask = damage_stream(
            np.arange(len(record.positions)) / record.fps, record.positions, record.mask,
            damage, np.random.default_rng(seed))
        windows, masks, _ = stream_windows(stamps, positions, mask, config, stride_s)
    if presence is not None:
        masks = masks & presence[None, None, :]
    return preprocess_batch(windows, masks, config)


def cut_window(record: ClipRecord, config: PreprocessConfig, speed: float,
               rng: np.random.Generator, damage: Optional[TrackerDamage] = None
               ) -> Tuple[np.ndarray, np.ndarray, float]:
    """Cut a raw window ending at a random time of the clip played at `speed` (seen through
    `damage`, if given); and its end (s)."""
    span = (config.window_frames - 1) / config.fps  # window length in played seconds
    played = record.duration / speed
    # A clip shorter than the window ends at its last frame: the start is masked padding,
    # exactly as clip_windows pads it.
    t_end = played if played <= span else float(rng.uniform(span, played))
    first = max(0, int(np.floor((t_end - span) * speed * record.fps)) - 1)
    last = min(record.positions.shape[0], int(np.ceil(t_end * speed * record.fps)) + 2)
    stamps = np.arange(first, last) / (record.fps * speed)
    positions, mask = record.positions[first:last], record.mask[first:last]
    if damage is not None:
        stamps, positions, mask = damage_stream(stamps, positions, mask, damage, rng)
    pos, mask, _ = resample(stamps, positions, mask, config.fps, config.window_frames,
                            t_end=t_end)
    return pos, mask, t_end * speed  # end time in the clip's own seconds


PELVIS = CANONICAL_INDEX["pelvis"]


def root_lock(positions: np.ndarray, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Hold the pelvis at the origin in every frame, (T, 21, 3); frames without a pelvis are
    masked (their offset is unknown)."""
    mask = mask & mask[:, PELVIS:PELVIS + 1]
    locked = positions - positions[:, PELVIS:PELVIS + 1]
    return np.where(mask[..., None], locked, 0.0).astype(np.float32), mask


def _drop_joints(mask: np.ndarray, aug: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Mask a whole layout's missing joints, random joints and random frames."""
    mask = mask.copy()
    if aug.layouts and rng.random() < aug.layout_p:
        mask &= layout_presence(aug.layouts[rng.integers(len(aug.layouts))])[None, :]
    if rng.random() < aug.joint_dropout_p:
        mask &= np.asarray(rng.random(mask.shape[1]) >= aug.joint_dropout_rate)[None, :]
        mask &= np.asarray(rng.random(mask.shape[0]) >= aug.frame_dropout_rate)[:, None]
    if rng.random() < aug.lead_crop_p:
        mask[:int(rng.integers(1, mask.shape[0] - 7))] = False
    return mask


def _transform(x: np.ndarray, mask: np.ndarray, aug: AugmentConfig,
               rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Rotate about Z, scale and mirror a normalised window (T, 21, 3); return it and its mask."""
    angle = np.radians(rng.uniform(-aug.rotate_deg, aug.rotate_deg))
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    x = (x @ rot.T) * np.float32(rng.uniform(1.0 - aug.scale, 1.0 + aug.scale))
    if rng.random() < aug.mirror_p:
        x = x[:, MIRROR_INDEX] * np.array([1.0, -1.0, 1.0], dtype=np.float32)  # Y is left
        mask = mask[:, MIRROR_INDEX]
    if rng.random() < aug.reverse_p:  # exact: the normalisation is symmetric in time
        x, mask = x[::-1], mask[::-1]
    return np.where(mask[..., None], x, 0.0).astype(np.float32), mask


def training_sample(record: ClipRecord, config: PreprocessConfig, aug: AugmentConfig,
                    rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, float]:
    """One cut, masked and preprocessed window (T, 21, 3), its mask and its end time in the clip.

    Rotation, scale and mirroring come later (`BalancedSampler`), so cut windows can be reused.
    """
    speed = float(rng.uniform(1.0 - aug.time_warp, 1.0 + aug.time_warp))
    damage = random_damage(rng, aug.tracker) if aug.tracker_p > 0 else None
    raw, mask, t_end = cut_window(record, config, speed, rng, damage)
    if aug.root_lock_p > 0 and rng.random() < aug.root_lock_p:  # no draw at 0: old recipes
        raw, mask = root_lock(raw, mask)                          # replay bit for bit
    x, mask = preprocess_window(raw, _drop_joints(mask, aug, rng), config)
    return x, mask, t_end


@dataclass
class WindowPool:
    """Pre-cut training windows of many clips: cutting and preprocessing dominate a step's cost."""

    x: np.ndarray       # (N, T, 21, 3) preprocessed
    mask: np.ndarray    # (N, T, 21)
    clip: np.ndarray    # (N,) index of the source record
    t_end: np.ndarray   # (N,) window end in the clip's seconds

    def members(self) -> Dict[int, np.ndarray]:
        """Pool rows of every clip."""
        order = np.argsort(self.clip, kind="stable")
        ids, starts = np.unique(self.clip[order], return_index=True)
        return dict(zip(ids.tolist(), np.split(order, starts[1:])))


def build_pool(records: Sequence[ClipRecord], config: PreprocessConfig, aug: AugmentConfig,
               per_clip: int, seed: int) -> WindowPool:
    """Cut `per_clip` random augmented windows from every record."""
    rng = np.random.default_rng(seed)
    n, t = len(records) * per_clip, config.window_frames
    pool = WindowPool(np.zeros((n, t, len(CANONICAL_JOINTS), 3), np.float32),
                      np.zeros((n, t, len(CANONICAL_JOINTS)), bool),
                      np.repeat(np.arange(len(records)), per_clip), np.zeros(n))
    for row, clip in enumerate(pool.clip):
        pool.x[row], pool.mask[row], pool.t_end[row] = training_sample(
            records[clip], config, aug, rng)
    return pool


class BalancedSampler:
    """Draw training windows: a class uniformly, then one of its clips, then one of its windows."""

    def __init__(self, pool: WindowPool, clips: Sequence[int], classes: Sequence[int],
                 aug: AugmentConfig, seed: int, groups: Optional[Sequence[str]] = None,
                 class_weights: Optional[Dict[int, float]] = None) -> None:
        """`groups` (one per clip, e.g. the action): draw a group uniformly before a clip.
        `class_weights` (class -> weight): draw classes in these proportions, not uniformly."""
        if len(clips) != len(classes) or not clips:
            raise ValueError(f"need one class per clip, got {len(clips)} clips and "
                             f"{len(classes)} classes")
        if groups is not None and len(groups) != len(clips):
            raise ValueError(f"need one group per clip, got {len(groups)} for {len(clips)}")
        self.pool, self.aug = pool, aug
        self.rng = np.random.default_rng(seed)
        rows = pool.members()
        missing = sorted(set(int(c) for c in clips) - set(rows))
        if missing:
            raise ValueError(f"clips {missing} have no windows in the pool")
        self._by_class: Dict[int, List[np.ndarray]] = {}
        by_group: Dict[int, Dict[str, List[int]]] = {}  # class -> group -> positions in class
        for n, (clip, cls) in enumerate(zip(clips, classes)):
            members = self._by_class.setdefault(int(cls), [])
            if groups is not None:  # positions in `members`, gathered per group
                by_group.setdefault(int(cls), {}).setdefault(groups[n], []).append(len(members))
            members.append(rows[int(clip)])
        self._groups: Optional[Dict[int, List[np.ndarray]]] = None if groups is None else {
            c: [np.array(v) for _, v in sorted(g.items())] for c, g in by_group.items()}
        self._class_ids = sorted(self._by_class)
        self._class_p: Optional[np.ndarray] = None
        if class_weights is not None:
            missing = sorted(set(self._class_ids) - set(class_weights))
            if missing:
                raise ValueError(f"classes {missing} have no weight")
            w = np.array([float(class_weights[c]) for c in self._class_ids])
            if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
                raise ValueError(f"class weights must be >= 0 with a positive sum, got {w}")
            self._class_p = w / w.sum()

    def batch(self, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return x (B, T, 21, 3), mask (B, T, 21), record index (B,), end time (B,)."""
        rows, partners = np.zeros(size, np.int64), np.full(size, -1)
        for b in range(size):
            cls = self._class_ids[self.rng.integers(len(self._class_ids)) if self._class_p is None
                                  else self.rng.choice(len(self._class_ids), p=self._class_p)]
            clips = self._by_class[cls]
            pick: int
            if self._groups is None:
                pick = int(self.rng.integers(len(clips)))
            else:
                group = self._groups[cls][self.rng.integers(len(self._groups[cls]))]
                pick = int(group[self.rng.integers(len(group))])
            rows[b] = clips[pick][self.rng.integers(len(clips[pick]))]
            if len(clips) > 1 and self.rng.random() < self.aug.mix_p:
                other = clips[(pick + 1 + self.rng.integers(len(clips) - 1)) % len(clips)]
                partners[b] = other[self.rng.integers(len(other))]
        xs, ms = self.pool.x[rows].copy(), self.pool.mask[rows].copy()
        for row in np.flatnonzero(partners >= 0):  # a new motion with the same label
            lam = np.float32(self.rng.uniform(0.3, 0.7))
            ms[row] &= self.pool.mask[partners[row]]
            xs[row] = np.where(ms[row][..., None],
                               lam * xs[row] + (1 - lam) * self.pool.x[partners[row]], 0.0)
        for b in range(size):
            xs[b], ms[b] = _transform(xs[b], ms[b], self.aug, self.rng)
        return xs, ms, self.pool.clip[rows], self.pool.t_end[rows]
