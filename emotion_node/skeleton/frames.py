"""Up axis and unit of a skeleton, told from its own shape: where its head is, and its size.

Works on canonical (T, 21, 3) positions still in a file's own axes and units, with their mask.
"""

from __future__ import annotations

import numpy as np

from emotion_node.skeleton.layouts import ARM_BONE_RATIOS, CANONICAL_INDEX, LEG_BONE_RATIOS

# Y up (BVH, SMPL) -> REP-103 (X forward, Y left, Z up): x' = z, y' = x, z' = y. A cyclic axis
# permutation, so a proper rotation (det = +1) that keeps left and right.
Y_UP_TO_REP103 = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
# File units -> metres, tried in this order (a tie keeps the first).
UNITS: tuple[tuple[str, float], ...] = (
    ("metres", 1.0), ("centimetres", 0.01), ("millimetres", 0.001), ("inches", 0.0254))
SCALED = "scaled"  # no unit fits: scaled to a typical stature
TYPICAL_STATURE_M = 1.7
# A unit fits when it puts the stature within this factor of 1.7 m (1.13-2.55 m): an adult, with
# room for the estimate's error. Units differ by at least 2.54x, so at most one fits.
STATURE_FACTOR = 1.5
# (upper, lower) canonical joints whose difference points up in a standing person.
_UP_PAIRS = (("head", "pelvis"), ("neck", "pelvis"), ("chest", "pelvis"),
             ("hip_l", "ankle_l"), ("hip_r", "ankle_r"))
_LIMB_BONES = tuple((CANONICAL_INDEX[a + s], CANONICAL_INDEX[b + s], share)
                    for s in ("_l", "_r") for a, b, share in LEG_BONE_RATIOS + ARM_BONE_RATIOS)


def rotation_to_rep103(axis: int, sign: float) -> np.ndarray:
    """Proper rotation taking file axes to REP-103, file axis `axis` (signed) going to +Z.

    Left is file +X (file +Y when X is up), as in BVH, SMPL and Z-up exports of them; forward
    follows from left and up. For Y up this is exactly `Y_UP_TO_REP103`.
    """
    up = np.zeros(3)
    up[axis] = sign
    left = np.zeros(3)
    left[1 if axis == 0 else 0] = 1.0
    forward = np.cross(left, up)  # REP-103: forward x left = up
    return np.stack([forward, left, up]) + 0.0  # + 0.0: no negative zeros


def up_axis(positions: np.ndarray, mask: np.ndarray, source: str) -> tuple[str, np.ndarray]:
    """The signed file axis pointing up (e.g. "+Y") and the rotation from file axes to REP-103.

    Summed over all frames, so a first frame that bows or lies down does not decide it alone.
    """
    total = np.zeros(3)
    for top, bottom in _UP_PAIRS:
        i, j = CANONICAL_INDEX[top], CANONICAL_INDEX[bottom]
        seen = mask[:, i] & mask[:, j]
        vec = positions[seen, i].astype(np.float64) - positions[seen, j]
        norm = np.linalg.norm(vec, axis=-1, keepdims=True)
        total += (vec / np.where(norm > 0, norm, 1.0)).sum(axis=0)
    if not np.abs(total).max() > 0:
        raise ValueError(f"{source}: cannot tell the up axis: no frame shows the pelvis with "
                         "the head, neck or chest, nor a hip with its ankle")
    axis = int(np.argmax(np.abs(total)))
    sign = 1.0 if total[axis] > 0 else -1.0
    return f"{'+' if sign > 0 else '-'}{'XYZ'[axis]}", rotation_to_rep103(axis, sign)


def stature(positions: np.ndarray, mask: np.ndarray) -> float | None:
    """Stature in file units from the median limb bone lengths and their shares of stature.

    Bone lengths do not change with posture, unlike a frame's head-to-ankle extent.
    """
    length = share = 0.0
    for i, j, part in _LIMB_BONES:
        seen = mask[:, i] & mask[:, j]
        if seen.any():
            bones = positions[seen, i].astype(np.float64) - positions[seen, j]
            length += float(np.median(np.linalg.norm(bones, axis=-1)))
            share += part
    return length / share if share and length > 0 else None


def detect_unit(positions: np.ndarray, mask: np.ndarray, source: str
                ) -> tuple[str, float, float]:
    """(unit name, scale from file units to metres, stature in metres) from the body's size.

    The unit putting the stature nearest 1.7 m wins if it lands within STATURE_FACTOR of it;
    otherwise (e.g. CMU's own units) the skeleton is scaled to 1.7 m and the unit is "scaled".
    """
    raw = stature(positions, mask)
    if raw is None or not np.isfinite(raw):
        raise ValueError(f"{source}: cannot tell the unit: no limb bone (hip-knee-ankle or "
                         "shoulder-elbow-wrist) is in view")
    name, scale = min(UNITS, key=lambda unit: abs(np.log(raw * unit[1] / TYPICAL_STATURE_M)))
    if abs(np.log(raw * scale / TYPICAL_STATURE_M)) > np.log(STATURE_FACTOR):
        return SCALED, TYPICAL_STATURE_M / raw, TYPICAL_STATURE_M
    return name, scale, raw * scale
