"""Interpretable kinematic cues of a window of canonical motion (speed, posture, rhythm).

Inputs are canonical positions in metres (REP-103, Z up), NOT normalised windows. A cue that
cannot be computed from the valid joints of a window is returned as nan; callers decide how to
show or impute it.
"""

from __future__ import annotations

import numpy as np

from emotion_node.skeleton.layouts import (
    ARM_BONE_RATIOS, CANONICAL_INDEX, LEG_BONE_RATIOS, NUM_JOINTS)

CUE_NAMES: tuple[str, ...] = (
    "speed", "arm_swing", "head_pitch", "expansion", "jerkiness", "bounce", "tempo")
CUE_UNITS: dict[str, str] = {
    "speed": "body heights/s",
    "arm_swing": "body heights",
    "head_pitch": "deg",
    "expansion": "shoulder widths",
    "jerkiness": "body heights/s^3",
    "bounce": "body heights",
    "tempo": "Hz",
}
CUE_DESCRIPTIONS: dict[str, str] = {
    "speed": "mean horizontal speed of the pelvis",
    "arm_swing": "RMS wrist excursion around its mean place in the torso frame",
    "head_pitch": "neck-to-head tilt from vertical; positive = head forward/down",
    "expansion": "mean elbow/wrist distance from the pelvis-neck axis per shoulder width",
    "jerkiness": "mean magnitude of the wrists' third time derivative",
    "bounce": "standard deviation of pelvis height",
    "tempo": "dominant frequency of pelvis vertical oscillation (0 when there is none)",
}

_I = CANONICAL_INDEX
# Legs first: tracker arm joints are less reliable.
_LEG_RATIOS, _ARM_RATIOS = LEG_BONE_RATIOS, ARM_BONE_RATIOS
_TEMPO_BAND_HZ = (0.5, 4.0)
_TEMPO_MIN_STD = 0.002  # body heights; below this the pelvis is not oscillating
_SPEED_LAG_S = 0.2      # finite-difference lag for speed, to damp tracker jitter


def body_height(positions: np.ndarray, mask: np.ndarray) -> float:
    """Stature estimate (m) from limb bone lengths (posture-invariant); nan if no limb."""
    for table in (_LEG_RATIOS, _ARM_RATIOS):
        estimates = []
        for a, b, ratio in table:
            for s in ("_l", "_r"):
                ia, ib = _I[a + s], _I[b + s]
                ok = mask[:, ia] & mask[:, ib]
                if ok.any():
                    length = np.linalg.norm(positions[ok, ia] - positions[ok, ib], axis=-1)
                    estimates.append(np.median(length) / ratio)
        if estimates:
            return float(np.median(estimates))
    return float("nan")


def _point(positions: np.ndarray, mask: np.ndarray, *options: tuple[str, ...]):
    """Per-frame (T, 3) point from the first joint group present in any frame, and (T,) valid."""
    for names in options:
        idx = [_I[n] for n in names]
        ok = mask[:, idx].all(axis=1)
        if ok.any():
            return positions[:, idx].mean(axis=1), ok
    return np.zeros((positions.shape[0], 3)), np.zeros(positions.shape[0], dtype=bool)


def _pelvis(positions, mask):
    return _point(positions, mask, ("pelvis",), ("hip_l", "hip_r"))


def _facing(positions: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame horizontal unit forward vector (T, 2) from hips or shoulders, and (T,) valid."""
    fwd = np.zeros((positions.shape[0], 2))
    ok = np.zeros(positions.shape[0], dtype=bool)
    for left, right in (("hip_l", "hip_r"), ("shoulder_l", "shoulder_r")):
        il, ir = _I[left], _I[right]
        lr = positions[:, il, :2] - positions[:, ir, :2]  # points to the person's left
        norm = np.linalg.norm(lr, axis=-1)
        use = mask[:, il] & mask[:, ir] & (norm > 1e-6) & ~ok
        fwd[use] = np.stack([lr[use, 1], -lr[use, 0]], axis=-1) / norm[use, None]
        ok |= use
    return fwd, ok


def _speed(positions, mask, fps, height):
    root, ok = _pelvis(positions, mask)
    lag = max(1, int(round(_SPEED_LAG_S * fps)))
    both = ok[lag:] & ok[:-lag]
    if not both.any():
        return float("nan")
    step = np.linalg.norm(root[lag:, :2] - root[:-lag, :2], axis=-1)[both]
    return float(step.mean() * fps / lag / height)


def _arm_swing(positions, mask, fps, height):
    ref, ref_ok = _point(positions, mask, ("chest",), ("neck",), ("shoulder_l", "shoulder_r"),
                         ("pelvis",))
    fwd, fwd_ok = _facing(positions, mask)
    amps = []
    for wrist in ("wrist_l", "wrist_r"):
        ok = ref_ok & fwd_ok & mask[:, _I[wrist]]
        if ok.sum() < 2:
            continue
        rel = positions[ok, _I[wrist]] - ref[ok]  # (k, 3)
        f = fwd[ok]
        # Express in the torso frame: forward, left, up.
        local = np.stack([(rel[:, :2] * f).sum(-1),
                          rel[:, 1] * f[:, 0] - rel[:, 0] * f[:, 1], rel[:, 2]], axis=-1)
        amps.append(np.sqrt(((local - local.mean(0)) ** 2).sum(-1).mean()))
    return float(np.mean(amps) / height) if amps else float("nan")


def _head_pitch(positions, mask, fps, height):
    fwd, fwd_ok = _facing(positions, mask)
    ok = fwd_ok & mask[:, _I["neck"]] & mask[:, _I["head"]]
    if not ok.any():
        return float("nan")
    v = positions[ok, _I["head"]] - positions[ok, _I["neck"]]  # (k, 3)
    ahead = (v[:, :2] * fwd[ok]).sum(-1)
    return float(np.degrees(np.arctan2(ahead, v[:, 2])).mean())


def _expansion(positions, mask, fps, height):
    base, base_ok = _pelvis(positions, mask)
    top, top_ok = _point(positions, mask, ("neck",), ("shoulder_l", "shoulder_r"))
    sl, sr = _I["shoulder_l"], _I["shoulder_r"]
    sh_ok = mask[:, sl] & mask[:, sr]
    if not sh_ok.any():
        return float("nan")
    width = np.median(np.linalg.norm(positions[sh_ok, sl] - positions[sh_ok, sr], axis=-1))
    axis = top - base
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)  # (T, 3)
    dists = []
    for name in ("elbow_l", "elbow_r", "wrist_l", "wrist_r"):
        ok = base_ok & top_ok & mask[:, _I[name]]
        rel = positions[ok, _I[name]] - base[ok]
        perp = rel - (rel * axis[ok]).sum(-1, keepdims=True) * axis[ok]
        dists.append(np.linalg.norm(perp, axis=-1))
    dists = np.concatenate(dists)
    return float(dists.mean() / width) if dists.size and width > 1e-6 else float("nan")


def _jerkiness(positions, mask, fps, height):
    mags = []
    for wrist in ("wrist_l", "wrist_r"):
        ok = mask[:, _I[wrist]]
        run = ok[3:] & ok[2:-1] & ok[1:-2] & ok[:-3]  # four consecutive valid frames
        if run.any():
            jerk = np.diff(positions[:, _I[wrist]], n=3, axis=0) * fps ** 3  # (T-3, 3)
            mags.append(np.linalg.norm(jerk[run], axis=-1))
    return float(np.concatenate(mags).mean() / height) if mags else float("nan")


def _bounce(positions, mask, fps, height):
    root, ok = _pelvis(positions, mask)
    return float(root[ok, 2].std() / height) if ok.sum() >= 2 else float("nan")


def _tempo(positions, mask, fps, height):
    root, ok = _pelvis(positions, mask)
    if ok.sum() < max(4, 0.5 * len(ok)):
        return float("nan")
    t = np.arange(len(ok)) / fps
    z = np.interp(t, t[ok], root[ok, 2]) / height  # fill gaps linearly
    z = z - np.polyval(np.polyfit(t, z, 1), t)    # remove drift (sitting down, stairs)
    if z.std() < _TEMPO_MIN_STD:
        return 0.0
    n_fft = max(256, 4 * len(z))  # zero-padding interpolates the coarse spectrum
    spec = np.abs(np.fft.rfft(z * np.hanning(len(z)), n=n_fft))
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / fps)
    band = (freqs >= _TEMPO_BAND_HZ[0]) & (freqs <= min(_TEMPO_BAND_HZ[1], fps / 2))
    if not band.any():
        return float("nan")
    return float(freqs[band][np.argmax(spec[band])])


_CUE_FUNCS = {
    "speed": _speed, "arm_swing": _arm_swing, "head_pitch": _head_pitch,
    "expansion": _expansion, "jerkiness": _jerkiness, "bounce": _bounce, "tempo": _tempo,
}


def kinematic_cues(positions: np.ndarray, mask: np.ndarray, fps: float) -> dict[str, float]:
    """Compute every cue of one (T, 21, 3) window in metres; nan where a cue is not computable."""
    positions = np.asarray(positions, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"kinematic_cues: expected (T, {NUM_JOINTS}, 3), got {positions.shape}")
    if mask.shape != positions.shape[:2]:
        raise ValueError(f"kinematic_cues: mask {mask.shape} does not match {positions.shape}")
    if not fps > 0:
        raise ValueError(f"kinematic_cues: fps must be > 0, got {fps}")
    mask = mask & np.isfinite(positions).all(axis=-1)
    positions = np.where(mask[..., None], positions, 0.0)
    height = body_height(positions, mask)
    out = {}
    for name in CUE_NAMES:
        needs_height = name in ("speed", "arm_swing", "jerkiness", "bounce", "tempo")
        if needs_height and not np.isfinite(height):
            out[name] = float("nan")
        else:
            out[name] = _CUE_FUNCS[name](positions, mask, fps, height)
    return out


def cues_batch(positions: np.ndarray, mask: np.ndarray, fps: float) -> np.ndarray:
    """Cues of (W, T, 21, 3) windows as a (W, 7) float32 array in CUE_NAMES order."""
    positions = np.asarray(positions)
    mask = np.asarray(mask)
    if positions.ndim != 4:
        raise ValueError(f"cues_batch: expected (W, T, J, 3), got {positions.shape}")
    out = np.full((positions.shape[0], len(CUE_NAMES)), np.nan, dtype=np.float32)
    for w in range(positions.shape[0]):
        cues = kinematic_cues(positions[w], mask[w], fps)
        out[w] = [cues[n] for n in CUE_NAMES]
    return out


# The parts of a window an explanation may name: the whole window, its first and second half.
SPAN_NAMES: tuple[str, ...] = ("window", "first_half", "second_half")
# Cues that are per-frame averages (their expected value does not depend on the span's length),
# so a half window's value reads on the whole window's scale. Swing, bounce and tempo measure an
# oscillation and shrink or vanish over half a window: they are only judged over the whole.
SPAN_STABLE_CUES: tuple[str, ...] = ("speed", "head_pitch", "expansion", "jerkiness")
# Cues that need the body's path through the room: a root-locked recording (the path removed,
# as in Emotion-Gait) cannot show them, so they are nan there, never a claim.
TRAVEL_CUES: tuple[str, ...] = ("speed",)


def span_cues_batch(positions: np.ndarray, mask: np.ndarray, fps: float,
                    root_locked: bool = False) -> np.ndarray:
    """Cues of (W, T, 21, 3) windows and of their halves: (W, 3, 7) float32 in SPAN_NAMES and
    CUE_NAMES order; a half's span-dependent cues (not in SPAN_STABLE_CUES) are nan, and so is
    every TRAVEL_CUES cue of a `root_locked` recording."""
    positions = np.asarray(positions)
    mask = np.asarray(mask)
    if positions.ndim != 4:
        raise ValueError(f"span_cues_batch: expected (W, T, J, 3), got {positions.shape}")
    half = positions.shape[1] // 2
    unstable = [i for i, n in enumerate(CUE_NAMES) if n not in SPAN_STABLE_CUES]
    parts = [cues_batch(positions, mask, fps)]
    for part in (slice(0, half), slice(half, None)):
        cues = cues_batch(positions[:, part], mask[:, part], fps)
        cues[:, unstable] = np.nan
        parts.append(cues)
    out = np.stack(parts, axis=1)
    if root_locked:
        out[..., [CUE_NAMES.index(n) for n in TRAVEL_CUES]] = np.nan
    return out


def span_cues(positions: np.ndarray, mask: np.ndarray, fps: float) -> np.ndarray:
    """(3, 7) cues of one (T, 21, 3) window and its halves (see `span_cues_batch`)."""
    return span_cues_batch(np.asarray(positions)[None], np.asarray(mask)[None], fps)[0]
