"""Model input preprocessing: resampling, windowing and per-window normalisation.

This module is the single place that turns canonical positions into model input; training,
export and the node all call `preprocess_window` / `preprocess_batch`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from emotion_node.skeleton.layouts import (
    ARM_BONE_RATIOS, CANONICAL_INDEX, LEG_BONE_RATIOS, NUM_JOINTS)

_I = CANONICAL_INDEX
# Posture-invariant limbs for the body scale: upper arms, forearms, thighs, shins. Torso height
# is left out on purpose: slumping is an emotion cue and must not be normalised away.
SCALE_BONES: tuple[tuple[int, int], ...] = tuple(
    (_I[a + s], _I[b + s]) for s in ("_l", "_r")
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")))
# With body_scale "stature", each bone length is first divided by its share of stature, so the
# scale does not change when the legs (or arms) are out of view; 0.2 keeps magnitudes near the
# limb median's.
_STATURE_SHARE = {(_I[a + s], _I[b + s]): r for s in ("_l", "_r")
                  for a, b, r in ARM_BONE_RATIOS + LEG_BONE_RATIOS}
STATURE_BONE_WEIGHTS = np.array([0.2 / _STATURE_SHARE[bone] for bone in SCALE_BONES])
BODY_SCALES = ("limbs", "stature")
# Left-right pairs whose horizontal direction gives the facing (person's left = +Y).
_LR_PAIRS = ((_I["hip_l"], _I["hip_r"]), (_I["shoulder_l"], _I["shoulder_r"]))
_TIME_TOL = 1e-9


@dataclass(frozen=True)
class PreprocessConfig:
    """Model rate and window length; saved with every model."""

    fps: float = 15.0
    window_frames: int = 30
    min_valid_joints: int = 6  # frames with fewer valid joints are masked out entirely
    body_scale: str = "limbs"  # "limbs": median limb bone; "stature": median stature estimate

    def __post_init__(self) -> None:
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"PreprocessConfig.fps must be > 0, got {self.fps}")
        if int(self.window_frames) != self.window_frames or self.window_frames < 2:
            raise ValueError(f"PreprocessConfig.window_frames must be an int >= 2, "
                             f"got {self.window_frames}")
        if not 0 <= self.min_valid_joints <= NUM_JOINTS:
            raise ValueError(f"PreprocessConfig.min_valid_joints must be in [0, {NUM_JOINTS}], "
                             f"got {self.min_valid_joints}")
        if self.body_scale not in BODY_SCALES:
            raise ValueError(f"PreprocessConfig.body_scale must be one of {BODY_SCALES}, "
                             f"got {self.body_scale!r}")

    def to_dict(self) -> dict:
        """Plain dict for JSON configs."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PreprocessConfig":
        """Inverse of `to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown PreprocessConfig keys {unknown}; known: {sorted(known)}")
        return cls(fps=float(data.get("fps", cls.fps)),
                   window_frames=int(data.get("window_frames", cls.window_frames)),
                   min_valid_joints=int(data.get("min_valid_joints", cls.min_valid_joints)),
                   body_scale=str(data.get("body_scale", cls.body_scale)))


def _check_positions(positions: np.ndarray, mask: np.ndarray, what: str) -> None:
    """Check (..., J, 3) positions against a (..., J) mask."""
    if positions.ndim < 2 or positions.shape[-1] != 3:
        raise ValueError(f"{what}: positions must be (..., J, 3), got {positions.shape}")
    if mask.shape != positions.shape[:-1]:
        raise ValueError(f"{what}: mask shape {mask.shape} does not match positions "
                         f"{positions.shape}")


def _check_stamps(stamps: np.ndarray, n: int) -> None:
    """Stamps must be (N,), finite and strictly increasing."""
    if stamps.ndim != 1 or stamps.shape[0] != n or n == 0:
        raise ValueError(f"resample: stamps must be (N,) with N = {n} >= 1, got {stamps.shape}")
    if not np.isfinite(stamps).all():
        raise ValueError("resample: stamps contain non-finite values")
    steps = np.diff(stamps)
    if (steps <= 0).any():
        k = int(np.argmax(steps <= 0))
        raise ValueError(f"resample: stamps must increase strictly; stamps[{k + 1}] = "
                         f"{stamps[k + 1]} follows {stamps[k]}")


def resample(stamps: np.ndarray, positions: np.ndarray, mask: np.ndarray, fps: float,
             n_frames: int, t_end: float | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linearly interpolate (N, J, 3) samples onto n_frames uniform stamps ending at t_end.

    A resampled joint is valid only when both neighbouring samples are valid (or it falls exactly
    on one valid sample). Stamps outside [stamps[0], stamps[-1]] are masked, never extrapolated.
    """
    stamps = np.asarray(stamps, dtype=np.float64)
    positions = np.asarray(positions, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    _check_positions(positions, mask, "resample")
    _check_stamps(stamps, positions.shape[0])
    if not fps > 0 or n_frames < 1:
        raise ValueError(f"resample: need fps > 0 and n_frames >= 1, got {fps}, {n_frames}")
    t_end = float(stamps[-1] if t_end is None else t_end)
    out_stamps = t_end - (n_frames - 1 - np.arange(n_frames)) / fps  # (n,)
    mask = mask & np.isfinite(positions).all(axis=-1)
    clean = np.where(mask[..., None], positions, 0.0)
    if stamps.shape[0] == 1:  # one sample: only an exact hit is valid
        hit = np.abs(out_stamps - stamps[0]) <= _TIME_TOL
        out_mask = hit[:, None] & mask[0][None]
        out = np.where(out_mask[..., None], clean[0][None], 0.0)
        return out.astype(np.float32), out_mask, out_stamps
    lo = np.clip(np.searchsorted(stamps, out_stamps, side="right") - 1, 0, len(stamps) - 2)
    hi = lo + 1
    w = np.clip((out_stamps - stamps[lo]) / (stamps[hi] - stamps[lo]), 0.0, 1.0)  # (n,)
    inside = (out_stamps >= stamps[0] - _TIME_TOL) & (out_stamps <= stamps[-1] + _TIME_TOL)
    need_lo = w < 1.0 - _TIME_TOL
    need_hi = w > _TIME_TOL
    out_mask = ((mask[lo] | ~need_lo[:, None]) & (mask[hi] | ~need_hi[:, None])
                & inside[:, None])  # (n, J)
    out = (1.0 - w)[:, None, None] * clean[lo] + w[:, None, None] * clean[hi]
    out = np.where(out_mask[..., None], out, 0.0)
    return out.astype(np.float32), out_mask, out_stamps


# Root candidates in order of preference: pelvis, else mid-hips, else mid-shoulders.
_ROOTS = tuple(tuple(_I[n] for n in names)
               for names in (("pelvis",), ("hip_l", "hip_r"), ("shoulder_l", "shoulder_r")))


def _roots(pos: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per window (B, 3) mean root over the frames that have it, and (B,) whether found.

    Falls back to the mean of all visible joints when no root candidate is ever seen.
    """
    b = pos.shape[0]
    root, found = np.zeros((b, 3)), np.zeros(b, dtype=bool)
    for idx in _ROOTS:
        ok = np.asarray(mask[:, :, idx].all(axis=2))  # (B, T)
        n = ok.sum(axis=1)
        mean = ((pos[:, :, idx].mean(axis=2) * ok[..., None]).sum(axis=1)
                / np.maximum(n, 1)[:, None])
        take = (n > 0) & ~found
        root[take], found[take] = mean[take], True
    visible = mask.sum(axis=(1, 2))
    take = ~found & (visible > 0)  # no torso at all: centre on the visible joints
    root[take] = (pos.sum(axis=(1, 2)) / np.maximum(visible, 1)[:, None])[take]
    return root, found | take


def _body_scales(pos: np.ndarray, mask: np.ndarray, how: str = "limbs") -> np.ndarray:
    """(B,) median limb bone length (or 0.2 x median stature estimate) over each window's valid
    bone samples; nan if none."""
    weights = STATURE_BONE_WEIGHTS if how == "stature" else np.ones(len(SCALE_BONES))
    lengths = np.concatenate([np.where(mask[:, :, a] & mask[:, :, b],
                                       w * np.linalg.norm(pos[:, :, a] - pos[:, :, b], axis=-1),
                                       np.nan) for (a, b), w in zip(SCALE_BONES, weights)],
                             axis=1)  # (B, 8T)
    count = np.isfinite(lengths).sum(axis=1)
    ordered = np.sort(lengths, axis=1)  # nan sorts last
    lo = np.take_along_axis(ordered, np.maximum(count - 1, 0)[:, None] // 2, axis=1)[:, 0]
    hi = np.take_along_axis(ordered, (count // 2)[:, None], axis=1)[:, 0]
    return np.where(count > 0, (lo + hi) / 2.0, np.nan)


def body_scale(positions: np.ndarray, mask: np.ndarray, how: str = "limbs") -> float:
    """Median limb bone length (upper arm, forearm, thigh, shin) over the window, or 0.2 x the
    median stature estimate from them (`how="stature"`); nan if none."""
    pos = np.asarray(positions, dtype=np.float64)[None]
    return float(_body_scales(pos, np.asarray(mask, dtype=bool)[None], how)[0])


def _headings(pos: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B,) mean facing angle about Z (radians, 0 = +X) from left-right vectors, and (B,)
    whether it is known."""
    total = np.zeros((pos.shape[0], 2))
    for left, right in _LR_PAIRS:
        ok = mask[:, :, left] & mask[:, :, right]  # (B, T)
        lr = pos[:, :, left, :2] - pos[:, :, right, :2]  # (B, T, 2) points to the left
        unit = lr / np.maximum(np.linalg.norm(lr, axis=-1, keepdims=True), 1e-9)
        total += (unit * ok[..., None]).sum(axis=1)
    known = np.linalg.norm(total, axis=-1) >= 1e-6
    # facing = left rotated by -90 degrees
    return np.arctan2(total[:, 1], total[:, 0]) - np.pi / 2, known


def _normalize_batch(positions: np.ndarray, mask: np.ndarray,
                     scale_by: str = "limbs") -> np.ndarray:
    """`normalize_window` over a batch: (B, T, 21, 3) float64 and (B, T, 21) valid mask."""
    pos = np.where(mask[..., None], positions, 0.0)
    root, centred = _roots(pos, mask)
    pos = pos - np.where(centred[:, None], root, 0.0)[:, None, None, :]
    yaw, known = _headings(pos, mask)
    c, s = np.cos(-yaw), np.sin(-yaw)
    zero, one = np.zeros_like(c), np.ones_like(c)
    rot = np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1),
                    np.stack([zero, zero, one], -1)], -2)  # (B, 3, 3)
    rot[~known] = np.eye(3)
    pos = pos @ rot.transpose(0, 2, 1)[:, None]  # (B, T, J, 3) @ (B, 1, 3, 3): x' = R x
    scale = _body_scales(pos, mask, scale_by)
    usable = np.isfinite(scale) & (scale > 1e-6)
    pos = pos / np.where(usable, scale, 1.0)[:, None, None, None]
    return np.where(mask[..., None], pos, 0.0).astype(np.float32)


def normalize_window(positions: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Root-centre, face +X on average and divide by the limb-length body scale; (T, J, 3)."""
    positions = np.asarray(positions, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    _check_positions(positions, mask, "normalize_window")
    if positions.ndim != 3 or positions.shape[1] != NUM_JOINTS:
        raise ValueError(f"normalize_window: expected (T, {NUM_JOINTS}, 3), got {positions.shape}")
    mask = mask & np.isfinite(positions).all(axis=-1)
    return _normalize_batch(positions[None], mask[None])[0]


def preprocess_window(positions: np.ndarray, mask: np.ndarray,
                      config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Validate and normalise one (T, 21, 3) canonical window into model input and its mask."""
    positions = np.asarray(positions, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    want = (config.window_frames, NUM_JOINTS, 3)
    if positions.shape != want:
        raise ValueError(f"preprocess_window: expected positions {want}, got {positions.shape}")
    if mask.shape != want[:2]:
        raise ValueError(f"preprocess_window: expected mask {want[:2]}, got {mask.shape}")
    x, m = preprocess_batch(positions[None], mask[None], config)
    return x[0], m[0]


def preprocess_batch(positions: np.ndarray, mask: np.ndarray,
                     config: PreprocessConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Batched `preprocess_window`: (B, T, 21, 3) and (B, T, 21) -> model input and mask."""
    config = config or PreprocessConfig()
    positions = np.asarray(positions, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    if positions.ndim != 4 or mask.shape != positions.shape[:-1]:
        raise ValueError(f"preprocess_batch: expected (B, T, J, 3) positions and (B, T, J) mask, "
                         f"got {positions.shape} and {mask.shape}")
    want = (config.window_frames, NUM_JOINTS, 3)
    if positions.shape[1:] != want:
        raise ValueError(f"preprocess_batch: expected (B, {want[0]}, {want[1]}, 3) positions, "
                         f"got {positions.shape}")
    mask = mask & np.isfinite(positions).all(axis=-1)
    # Frames with too few joints (spurious or half-lost detections) carry no usable pose.
    mask = mask & (mask.sum(axis=2, keepdims=True) >= config.min_valid_joints)
    return _normalize_batch(positions.astype(np.float64), mask, config.body_scale), mask


def clip_windows(positions: np.ndarray, mask: np.ndarray, src_fps: float,
                 config: PreprocessConfig, stride_s: float = 0.5
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample a clip to config.fps and cut sliding raw windows (not yet normalised).

    Returns windows (W, T, J, 3) in the clip's frame, masks (W, T, J) and end times (W,) in
    seconds from the clip start. A clip shorter than one window gives a single window padded at
    the START with masked frames: the same warm-up padding the node uses before its buffer fills.
    Leak risk: padding length reveals clip length, which correlates with content and style in
    this dataset; callers may crop or pad-mask long clips the same way to keep it uninformative.
    """
    positions = np.asarray(positions, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    _check_positions(positions, mask, "clip_windows")
    if not src_fps > 0 or not stride_s > 0:
        raise ValueError(f"clip_windows: need src_fps > 0 and stride_s > 0, "
                         f"got {src_fps}, {stride_s}")
    return stream_windows(np.arange(positions.shape[0]) / src_fps, positions, mask, config,
                          stride_s)


def stream_windows(stamps: np.ndarray, positions: np.ndarray, mask: np.ndarray,
                   config: PreprocessConfig, stride_s: float = 0.5
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`clip_windows` for frames at any stamps (a tracker's uneven timing): the stream is
    resampled onto the model rate ending at its last stamp, then cut; end times are seconds
    from the first stamp."""
    positions = np.asarray(positions, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    _check_positions(positions, mask, "stream_windows")
    if not stride_s > 0:
        raise ValueError(f"stream_windows: need stride_s > 0, got {stride_s}")
    stamps = np.asarray(stamps, dtype=np.float64)
    stamps = stamps - stamps[0] if stamps.size else stamps
    n = int(np.floor(stamps[-1] * config.fps + 1e-6)) + 1
    pos, msk, out_stamps = resample(stamps, positions, mask, config.fps, n)
    t = config.window_frames
    if n < t:
        pad = t - n
        pos = np.concatenate([np.zeros((pad,) + pos.shape[1:], np.float32), pos])
        msk = np.concatenate([np.zeros((pad,) + msk.shape[1:], bool), msk])
        return pos[None], msk[None], out_stamps[-1:]
    stride = max(1, int(round(stride_s * config.fps)))
    ends = np.arange(t - 1, n, stride)  # (W,) index of each window's last frame
    idx = ends[:, None] - (t - 1) + np.arange(t)[None]  # (W, T)
    return pos[idx], msk[idx], out_stamps[ends]
