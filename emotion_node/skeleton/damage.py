"""What real trackers do to a clean motion-capture stream, in one place.

A depth or RGB tracker jitters every joint, loses joints for a frame, loses the legs when someone
stands close, runs at its own frame rate with uneven timing, and sees bodies of every proportion.
`TrackerDamage` describes one such degradation of a stream of canonical frames (stamps, (N, 21, 3)
metres, (N, 21) mask); `damage_stream` applies it. Training draws random damage per window
(`emotion_node.training.data`), and the robustness evaluation applies one kind at a time, so both
speak of the same damage.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Dict, Optional, Tuple

import numpy as np

from emotion_node.skeleton.layouts import CANONICAL_INDEX, CANONICAL_PARENTS, NUM_JOINTS

_I = CANONICAL_INDEX
# Out of view when someone stands close to the camera (or behind a table): knees, ankles, toes.
LOWER_BODY: Tuple[int, ...] = tuple(_I[f"{j}_{s}"] for j in ("knee", "ankle", "toe")
                                    for s in ("l", "r"))
# Body segments that scale together when proportions change (a child: short legs, big head).
_SEGMENTS: Dict[str, Tuple[int, ...]] = {
    "legs": tuple(_I[f"{j}_{s}"] for j in ("knee", "ankle", "toe") for s in ("l", "r")),
    "arms": tuple(_I[f"{j}_{s}"] for j in ("elbow", "wrist") for s in ("l", "r")),
    "torso": (_I["spine"], _I["chest"], _I["neck"], _I["clavicle_l"], _I["clavicle_r"],
              _I["shoulder_l"], _I["shoulder_r"], _I["hip_l"], _I["hip_r"]),
    "head": (_I["head"],),
}


@dataclass(frozen=True)
class TrackerDamage:
    """One degradation of a canonical stream; every field at its default means none."""

    jitter_m: float = 0.0           # per-joint, per-frame Gaussian noise (standard deviation, m)
    joint_loss: float = 0.0         # share of (frame, joint) samples unobserved
    frame_loss: float = 0.0         # share of whole frames lost
    lower_body: bool = False        # knees, ankles and toes never observed
    rate_hz: float = 0.0            # > 0: the tracker samples the motion at this rate ...
    timing_jitter: float = 0.0      # ... with stamps off by up to this share of a period
    proportions: Tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)  # legs, arms, torso,
    # head bone-length factors (a child's legs are shorter relative to the head)

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        out = asdict(self)
        out["proportions"] = list(self.proportions)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "TrackerDamage":
        """Inverse of `to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrackerDamage keys {unknown}; known: {sorted(known)}")
        data = dict(data)
        if "proportions" in data:
            data["proportions"] = tuple(float(v) for v in data["proportions"])
        return cls(**data)


# The damage types the robustness evaluation scores one at a time, next to clean input.
DAMAGE_KINDS: Dict[str, TrackerDamage] = {
    "upper_body": TrackerDamage(lower_body=True),
    "jitter_2cm": TrackerDamage(jitter_m=0.02),
    "dropout_10pct": TrackerDamage(joint_loss=0.10, frame_loss=0.05),
    "rate_15hz": TrackerDamage(rate_hz=15.0, timing_jitter=0.2),
    "rate_60hz": TrackerDamage(rate_hz=60.0, timing_jitter=0.2),
    "child_proportions": TrackerDamage(proportions=(0.8, 0.85, 0.9, 1.25)),
}


def rescale_bones(positions: np.ndarray, mask: np.ndarray,
                  proportions: Tuple[float, float, float, float]) -> np.ndarray:
    """Scale each bone (joint minus parent) of (N, 21, 3) positions by its segment's factor,
    keeping the pelvis where it is; a bone with an unseen end keeps its original vector."""
    factor = np.ones(NUM_JOINTS)
    for joints, value in zip(_SEGMENTS.values(), proportions):
        factor[list(joints)] = value
    out = positions.astype(np.float64, copy=True)
    for j, parent in enumerate(CANONICAL_PARENTS):  # parents come before their children
        if parent < 0:
            continue
        bone = positions[:, j] - positions[:, parent]
        ok = (mask[:, j] & mask[:, parent])[:, None]
        out[:, j] = out[:, parent] + np.where(ok, factor[j] * bone, bone)
    return out.astype(positions.dtype)


def _interpolate(stamps: np.ndarray, positions: np.ndarray, mask: np.ndarray,
                 at: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Sample a stream at new stamps (linear; a sample needs both neighbours observed)."""
    lo = np.clip(np.searchsorted(stamps, at, side="right") - 1, 0, len(stamps) - 2)
    hi = lo + 1
    w = np.clip((at - stamps[lo]) / (stamps[hi] - stamps[lo]), 0.0, 1.0)[:, None]
    ok = mask[lo] & mask[hi]
    pos = (1.0 - w)[..., None] * positions[lo] + w[..., None] * positions[hi]
    return np.where(ok[..., None], pos, 0.0).astype(positions.dtype), ok


def damage_stream(stamps: np.ndarray, positions: np.ndarray, mask: np.ndarray,
                  damage: TrackerDamage, rng: np.random.Generator
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply `damage` to a stream; return new (M,) stamps, (M, 21, 3) positions, (M, 21) mask.

    Draws from `rng` only for the parts of `damage` that are set, so an undamaged stream costs
    no random numbers and comes back unchanged.
    """
    stamps = np.asarray(stamps, np.float64)
    mask = np.asarray(mask, bool).copy()
    if damage.proportions != (1.0, 1.0, 1.0, 1.0):
        positions = rescale_bones(positions, mask, damage.proportions)
    if damage.rate_hz > 0 and len(stamps) > 1:
        period = 1.0 / damage.rate_hz
        # The tracker's beat ends on the stream's last stamp, so windows ending there keep it.
        at = stamps[-1] - np.arange(int(np.floor((stamps[-1] - stamps[0]) / period + 1e-9)),
                                    -1, -1) * period
        if damage.timing_jitter > 0:  # the frame is taken off-beat, stamped on the beat
            offsets = rng.uniform(-damage.timing_jitter, damage.timing_jitter, len(at)) * period
            sampled, ok = _interpolate(stamps, positions, mask,
                                       np.clip(at + offsets, stamps[0], stamps[-1]))
        else:
            sampled, ok = _interpolate(stamps, positions, mask, at)
        stamps, positions, mask = at, sampled, ok
    if damage.jitter_m > 0:
        noise = rng.normal(0.0, damage.jitter_m, positions.shape)
        positions = np.where(mask[..., None], positions + noise, positions).astype(
            positions.dtype)
    if damage.joint_loss > 0:
        mask &= rng.random(mask.shape) >= damage.joint_loss
    if damage.frame_loss > 0:
        kept = np.asarray(rng.random(mask.shape[0]) >= damage.frame_loss)
        mask &= kept[:, None]
    if damage.lower_body:
        mask[:, list(LOWER_BODY)] = False
    return stamps, positions, mask


def damage_kind(name: str) -> TrackerDamage:
    """The named evaluation damage; ValueError listing the known ones."""
    if name not in DAMAGE_KINDS:
        raise ValueError(f"unknown damage kind {name!r}; known: {sorted(DAMAGE_KINDS)}")
    return DAMAGE_KINDS[name]


def random_damage(rng: np.random.Generator, strength: "DamageAugment") -> Optional[TrackerDamage]:
    """A random tracker degradation for one training window (None: this window stays clean)."""
    if rng.random() >= strength.p:
        return None
    jitter = float(rng.uniform(*strength.jitter_m)) if rng.random() < 0.7 else 0.0
    lost = float(rng.uniform(0.0, strength.joint_loss)) if rng.random() < 0.5 else 0.0
    frames = float(rng.uniform(0.0, strength.frame_loss)) if rng.random() < 0.3 else 0.0
    lower = bool(rng.random() < strength.lower_body_p)
    rate = float(rng.choice(strength.rates_hz)) if rng.random() < strength.rate_p else 0.0
    scale = strength.proportion_range
    props = (1.0, 1.0, 1.0, 1.0)
    if rng.random() < strength.proportions_p:
        child = float(rng.uniform(0.0, 1.0))  # 0: adult proportions, 1: a young child's
        tall = float(rng.uniform(1.0 - scale, 1.0 + scale))
        props = (tall * (1.0 - 0.2 * child), tall * (1.0 - 0.15 * child),
                 1.0 - 0.1 * child, 1.0 + 0.3 * child)
    return TrackerDamage(jitter_m=jitter, joint_loss=lost, frame_loss=frames, lower_body=lower,
                         rate_hz=rate, timing_jitter=0.25 if rate else 0.0, proportions=props)


@dataclass(frozen=True)
class DamageAugment:
    """How often and how hard training windows are damaged like a tracker would."""

    p: float = 0.0                              # share of windows damaged at all
    jitter_m: Tuple[float, float] = (0.01, 0.03)
    joint_loss: float = 0.15
    frame_loss: float = 0.1
    lower_body_p: float = 0.25
    rate_p: float = 0.5
    rates_hz: Tuple[float, ...] = (15.0, 30.0, 60.0)
    proportions_p: float = 0.3
    proportion_range: float = 0.1               # leg and arm scale of tall or short adults
