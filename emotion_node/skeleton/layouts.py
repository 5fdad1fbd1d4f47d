"""Tracker joint layouts and their mapping onto the 21-joint canonical skeleton."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANONICAL_JOINTS: tuple[str, ...] = (
    "pelvis", "spine", "chest", "neck", "head",
    "clavicle_l", "shoulder_l", "elbow_l", "wrist_l",
    "clavicle_r", "shoulder_r", "elbow_r", "wrist_r",
    "hip_l", "knee_l", "ankle_l", "toe_l",
    "hip_r", "knee_r", "ankle_r", "toe_r",
)
CANONICAL_PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3,
    2, 5, 6, 7,
    2, 9, 10, 11,
    0, 13, 14, 15,
    0, 17, 18, 19,
)
NUM_JOINTS = len(CANONICAL_JOINTS)
CANONICAL_INDEX: dict[str, int] = {name: i for i, name in enumerate(CANONICAL_JOINTS)}

# Segment length / stature (Winter's anthropometric table): thigh 0.245, shank 0.246,
# upper arm 0.186, forearm 0.146; (proximal, distal) joint name stems, sides _l and _r.
LEG_BONE_RATIOS: tuple[tuple[str, str, float], ...] = (
    ("hip", "knee", 0.245), ("knee", "ankle", 0.246))
ARM_BONE_RATIOS: tuple[tuple[str, str, float], ...] = (
    ("shoulder", "elbow", 0.186), ("elbow", "wrist", 0.146))

# Each canonical joint belongs to exactly one part (for body-part pooling).
BODY_PARTS: dict[str, tuple[int, ...]] = {
    "torso": (0, 1, 2),
    "head": (3, 4),
    "left_arm": (5, 6, 7, 8),
    "right_arm": (9, 10, 11, 12),
    "left_leg": (13, 14, 15, 16),
    "right_leg": (17, 18, 19, 20),
}


@dataclass(frozen=True)
class Layout:
    """A tracker's joint list, its kinematic tree and its by-name link to canonical joints.

    `canonical` maps a layout joint name to a canonical joint name. When several layout joints
    name the same canonical joint (e.g. both ears -> head centre) their valid mean is used.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    canonical: dict[str, str]


def _make(name: str, joints_parents: list[tuple[str, int]], canonical: dict[str, str]) -> Layout:
    """Build a Layout, checking that every alias names a real joint on both sides."""
    joints = tuple(j for j, _ in joints_parents)
    parents = tuple(p for _, p in joints_parents)
    for src, dst in canonical.items():
        if src not in joints or dst not in CANONICAL_INDEX:
            raise ValueError(f"layout {name!r}: bad alias {src!r} -> {dst!r}")
    return Layout(name, joints, parents, dict(canonical))


def _lr(left: str, right: str, body: dict[str, str]) -> dict[str, str]:
    """Expand {'SHOULDER_{S}': 'shoulder_{s}'} style templates into left and right entries."""
    out: dict[str, str] = {}
    for src, dst in body.items():
        out[src.format(S=left)] = dst.format(s="l")
        out[src.format(S=right)] = dst.format(s="r")
    return out


_CANONICAL = _make("canonical", list(zip(CANONICAL_JOINTS, CANONICAL_PARENTS)),
                   {j: j for j in CANONICAL_JOINTS})

# Bandai Namco Research Motion Dataset BVH: Shoulder_* is the clavicle, UpperArm_* the shoulder.
_BANDAI_NAMES = (
    "Hips", "Spine", "Chest", "Neck", "Head",
    "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
    "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R",
    "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
    "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R",
)
_BANDAI = _make("bandai", list(zip(_BANDAI_NAMES, CANONICAL_PARENTS)),
                dict(zip(_BANDAI_NAMES, CANONICAL_JOINTS)))

# Azure Kinect / Orbbec body tracking (k4abt_joint_id_t order). FOOT_* is the toe end.
_K4ABT = _make("k4abt", [
    ("PELVIS", -1), ("SPINE_NAVEL", 0), ("SPINE_CHEST", 1), ("NECK", 2),
    ("CLAVICLE_LEFT", 2), ("SHOULDER_LEFT", 4), ("ELBOW_LEFT", 5), ("WRIST_LEFT", 6),
    ("HAND_LEFT", 7), ("HANDTIP_LEFT", 8), ("THUMB_LEFT", 7),
    ("CLAVICLE_RIGHT", 2), ("SHOULDER_RIGHT", 11), ("ELBOW_RIGHT", 12), ("WRIST_RIGHT", 13),
    ("HAND_RIGHT", 14), ("HANDTIP_RIGHT", 15), ("THUMB_RIGHT", 14),
    ("HIP_LEFT", 0), ("KNEE_LEFT", 18), ("ANKLE_LEFT", 19), ("FOOT_LEFT", 20),
    ("HIP_RIGHT", 0), ("KNEE_RIGHT", 22), ("ANKLE_RIGHT", 23), ("FOOT_RIGHT", 24),
    ("HEAD", 3), ("NOSE", 26), ("EYE_LEFT", 26), ("EAR_LEFT", 26),
    ("EYE_RIGHT", 26), ("EAR_RIGHT", 26),
], {
    "PELVIS": "pelvis", "SPINE_NAVEL": "spine", "SPINE_CHEST": "chest", "NECK": "neck",
    "HEAD": "head",
    **_lr("LEFT", "RIGHT", {
        "CLAVICLE_{S}": "clavicle_{s}", "SHOULDER_{S}": "shoulder_{s}", "ELBOW_{S}": "elbow_{s}",
        "WRIST_{S}": "wrist_{s}", "HIP_{S}": "hip_{s}", "KNEE_{S}": "knee_{s}",
        "ANKLE_{S}": "ankle_{s}", "FOOT_{S}": "toe_{s}"}),
})

# Stereolabs ZED SDK BODY_18 (OpenPose/COCO-18 order): no pelvis or spine; head = ear midpoint.
_ZED18 = _make("zed_body18", [
    ("NOSE", -1), ("NECK", 0), ("RIGHT_SHOULDER", 1), ("RIGHT_ELBOW", 2), ("RIGHT_WRIST", 3),
    ("LEFT_SHOULDER", 1), ("LEFT_ELBOW", 5), ("LEFT_WRIST", 6),
    ("RIGHT_HIP", 1), ("RIGHT_KNEE", 8), ("RIGHT_ANKLE", 9),
    ("LEFT_HIP", 1), ("LEFT_KNEE", 11), ("LEFT_ANKLE", 12),
    ("RIGHT_EYE", 0), ("LEFT_EYE", 0), ("RIGHT_EAR", 14), ("LEFT_EAR", 15),
], {
    "NECK": "neck",
    **_lr("LEFT", "RIGHT", {
        "{S}_SHOULDER": "shoulder_{s}", "{S}_ELBOW": "elbow_{s}", "{S}_WRIST": "wrist_{s}",
        "{S}_HIP": "hip_{s}", "{S}_KNEE": "knee_{s}", "{S}_ANKLE": "ankle_{s}",
        "{S}_EAR": "head"}),
})

# ZED SDK BODY_34: same tree as k4abt plus heels; FOOT_* is the toe end.
_ZED34 = _make("zed_body34", [
    ("PELVIS", -1), ("NAVAL_SPINE", 0), ("CHEST_SPINE", 1), ("NECK", 2),
    ("LEFT_CLAVICLE", 2), ("LEFT_SHOULDER", 4), ("LEFT_ELBOW", 5), ("LEFT_WRIST", 6),
    ("LEFT_HAND", 7), ("LEFT_HANDTIP", 8), ("LEFT_THUMB", 7),
    ("RIGHT_CLAVICLE", 2), ("RIGHT_SHOULDER", 11), ("RIGHT_ELBOW", 12), ("RIGHT_WRIST", 13),
    ("RIGHT_HAND", 14), ("RIGHT_HANDTIP", 15), ("RIGHT_THUMB", 14),
    ("LEFT_HIP", 0), ("LEFT_KNEE", 18), ("LEFT_ANKLE", 19), ("LEFT_FOOT", 20),
    ("RIGHT_HIP", 0), ("RIGHT_KNEE", 22), ("RIGHT_ANKLE", 23), ("RIGHT_FOOT", 24),
    ("HEAD", 3), ("NOSE", 26), ("LEFT_EYE", 26), ("LEFT_EAR", 26),
    ("RIGHT_EYE", 26), ("RIGHT_EAR", 26), ("LEFT_HEEL", 20), ("RIGHT_HEEL", 24),
], {
    "PELVIS": "pelvis", "NAVAL_SPINE": "spine", "CHEST_SPINE": "chest", "NECK": "neck",
    "HEAD": "head",
    **_lr("LEFT", "RIGHT", {
        "{S}_CLAVICLE": "clavicle_{s}", "{S}_SHOULDER": "shoulder_{s}", "{S}_ELBOW": "elbow_{s}",
        "{S}_WRIST": "wrist_{s}", "{S}_HIP": "hip_{s}", "{S}_KNEE": "knee_{s}",
        "{S}_ANKLE": "ankle_{s}", "{S}_FOOT": "toe_{s}"}),
})

# ZED SDK BODY_38: no HEAD joint (head = ear midpoint); SPINE_1/2 ~ navel/chest height.
_ZED38 = _make("zed_body38", [
    ("PELVIS", -1), ("SPINE_1", 0), ("SPINE_2", 1), ("SPINE_3", 2), ("NECK", 3),
    ("NOSE", 4), ("LEFT_EYE", 5), ("RIGHT_EYE", 5), ("LEFT_EAR", 6), ("RIGHT_EAR", 7),
    ("LEFT_CLAVICLE", 3), ("RIGHT_CLAVICLE", 3), ("LEFT_SHOULDER", 10), ("RIGHT_SHOULDER", 11),
    ("LEFT_ELBOW", 12), ("RIGHT_ELBOW", 13), ("LEFT_WRIST", 14), ("RIGHT_WRIST", 15),
    ("LEFT_HIP", 0), ("RIGHT_HIP", 0), ("LEFT_KNEE", 18), ("RIGHT_KNEE", 19),
    ("LEFT_ANKLE", 20), ("RIGHT_ANKLE", 21), ("LEFT_BIG_TOE", 22), ("RIGHT_BIG_TOE", 23),
    ("LEFT_SMALL_TOE", 22), ("RIGHT_SMALL_TOE", 23), ("LEFT_HEEL", 22), ("RIGHT_HEEL", 23),
    ("LEFT_HAND_THUMB_4", 16), ("RIGHT_HAND_THUMB_4", 17),
    ("LEFT_HAND_INDEX_1", 16), ("RIGHT_HAND_INDEX_1", 17),
    ("LEFT_HAND_MIDDLE_4", 16), ("RIGHT_HAND_MIDDLE_4", 17),
    ("LEFT_HAND_PINKY_1", 16), ("RIGHT_HAND_PINKY_1", 17),
], {
    "PELVIS": "pelvis", "SPINE_1": "spine", "SPINE_2": "chest", "NECK": "neck",
    **_lr("LEFT", "RIGHT", {
        "{S}_CLAVICLE": "clavicle_{s}", "{S}_SHOULDER": "shoulder_{s}", "{S}_ELBOW": "elbow_{s}",
        "{S}_WRIST": "wrist_{s}", "{S}_HIP": "hip_{s}", "{S}_KNEE": "knee_{s}",
        "{S}_ANKLE": "ankle_{s}", "{S}_BIG_TOE": "toe_{s}", "{S}_EAR": "head"}),
})

# Kinect for Windows v2 JointType order. SpineShoulder (top of sternum) stands in for chest.
_KINECT_V2 = _make("kinect_v2", [
    ("SpineBase", -1), ("SpineMid", 0), ("Neck", 20), ("Head", 2),
    ("ShoulderLeft", 20), ("ElbowLeft", 4), ("WristLeft", 5), ("HandLeft", 6),
    ("ShoulderRight", 20), ("ElbowRight", 8), ("WristRight", 9), ("HandRight", 10),
    ("HipLeft", 0), ("KneeLeft", 12), ("AnkleLeft", 13), ("FootLeft", 14),
    ("HipRight", 0), ("KneeRight", 16), ("AnkleRight", 17), ("FootRight", 18),
    ("SpineShoulder", 1), ("HandTipLeft", 7), ("ThumbLeft", 6),
    ("HandTipRight", 11), ("ThumbRight", 10),
], {
    "SpineBase": "pelvis", "SpineMid": "spine", "SpineShoulder": "chest", "Neck": "neck",
    "Head": "head",
    **_lr("Left", "Right", {
        "Shoulder{S}": "shoulder_{s}", "Elbow{S}": "elbow_{s}", "Wrist{S}": "wrist_{s}",
        "Hip{S}": "hip_{s}", "Knee{S}": "knee_{s}", "Ankle{S}": "ankle_{s}",
        "Foot{S}": "toe_{s}"}),
})

# COCO-17 keypoints: no pelvis/spine/chest/neck (masked); head = ear midpoint.
_COCO17 = _make("coco17", [
    ("nose", -1), ("left_eye", 0), ("right_eye", 0), ("left_ear", 1), ("right_ear", 2),
    ("left_shoulder", 0), ("right_shoulder", 0), ("left_elbow", 5), ("right_elbow", 6),
    ("left_wrist", 7), ("right_wrist", 8), ("left_hip", 5), ("right_hip", 6),
    ("left_knee", 11), ("right_knee", 12), ("left_ankle", 13), ("right_ankle", 14),
], _lr("left", "right", {
    "{S}_shoulder": "shoulder_{s}", "{S}_elbow": "elbow_{s}", "{S}_wrist": "wrist_{s}",
    "{S}_hip": "hip_{s}", "{S}_knee": "knee_{s}", "{S}_ankle": "ankle_{s}",
    "{S}_ear": "head"}))

# MediaPipe Pose 33 landmarks; foot_index is the toe tip; head = ear midpoint.
_MP_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
_MP_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0, 0, 0, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,
               11, 12, 23, 24, 25, 26, 27, 28, 27, 28)
_MEDIAPIPE33 = _make("mediapipe33", list(zip(_MP_NAMES, _MP_PARENTS)), _lr("left", "right", {
    "{S}_shoulder": "shoulder_{s}", "{S}_elbow": "elbow_{s}", "{S}_wrist": "wrist_{s}",
    "{S}_hip": "hip_{s}", "{S}_knee": "knee_{s}", "{S}_ankle": "ankle_{s}",
    "{S}_foot_index": "toe_{s}", "{S}_ear": "head"}))

# Emotion-Gait (STEP / ProxEmo) gaits, 16 joints: no clavicles, chest or toes (masked); "spine"
# sits midway between root and neck, "neck" at shoulder height; hand = wrist, foot = ankle.
_EGAIT16 = _make("egait16", [
    ("root", -1), ("spine", 0), ("neck", 1), ("head", 2),
    ("left_shoulder", 2), ("left_elbow", 4), ("left_hand", 5),
    ("right_shoulder", 2), ("right_elbow", 7), ("right_hand", 8),
    ("left_hip", 0), ("left_knee", 10), ("left_foot", 11),
    ("right_hip", 0), ("right_knee", 13), ("right_foot", 14),
], {
    "root": "pelvis", "spine": "spine", "neck": "neck", "head": "head",
    **_lr("left", "right", {
        "{S}_shoulder": "shoulder_{s}", "{S}_elbow": "elbow_{s}", "{S}_hand": "wrist_{s}",
        "{S}_hip": "hip_{s}", "{S}_knee": "knee_{s}", "{S}_foot": "ankle_{s}"}),
})

# ROS4HRI human model (ros4hri/human_description, REP-155): the frames of one body's kinematic
# model, named "<frame>_<body id>" on TF. "body" is the root between the hips, "torso" sits at
# shoulder height between the shoulders (the neck's base), "head" at the head's centre; "waist"
# shares the root's origin. No spine, chest, clavicles or toes (masked).
_ROS4HRI = _make("ros4hri", [
    ("body", -1), ("waist", 0), ("torso", 1), ("head", 2),
    ("l_shoulder", 2), ("l_elbow", 4), ("l_wrist", 5),
    ("r_shoulder", 2), ("r_elbow", 7), ("r_wrist", 8),
    ("l_hip", 0), ("l_knee", 10), ("l_ankle", 11),
    ("r_hip", 0), ("r_knee", 13), ("r_ankle", 14),
], {
    "body": "pelvis", "torso": "neck", "head": "head",
    **_lr("l", "r", {
        "{S}_shoulder": "shoulder_{s}", "{S}_elbow": "elbow_{s}", "{S}_wrist": "wrist_{s}",
        "{S}_hip": "hip_{s}", "{S}_knee": "knee_{s}", "{S}_ankle": "ankle_{s}"}),
})

LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (
    _CANONICAL, _BANDAI, _K4ABT, _ZED18, _ZED34, _ZED38, _KINECT_V2, _COCO17, _MEDIAPIPE33,
    _EGAIT16, _ROS4HRI)}


def get_layout(name: str) -> Layout:
    """Return the named layout or raise ValueError listing the known ones."""
    if name not in LAYOUTS:
        raise ValueError(f"unknown joint layout {name!r}; known: {sorted(LAYOUTS)}")
    return LAYOUTS[name]


def layout_from_joint_names(names: list[str] | tuple[str, ...]) -> Layout:
    """Find the layout with exactly these joints, else build an ad-hoc one (no tree) by name."""
    names = tuple(names)
    for lay in LAYOUTS.values():
        if lay.joints == names:
            return lay
    known: dict[str, str | None] = {}  # name -> canonical target (None: known but unmapped)
    averaged: set[str] = set()         # names only used as one of several averaged sources
    for lay in LAYOUTS.values():
        counts: dict[str, int] = {}
        for dst in lay.canonical.values():
            counts[dst] = counts.get(dst, 0) + 1
        for j in lay.joints:
            target = lay.canonical.get(j)
            if known.get(j) is None:
                known[j] = target
            if target is not None and counts[target] > 1:
                averaged.add(j)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown joint names {unknown}; not part of any layout in "
                         f"{sorted(LAYOUTS)}")
    canonical = {n: mapped for n in names if (mapped := known[n]) is not None}
    direct = {dst for n, dst in canonical.items() if n not in averaged}
    # A direct source (e.g. HEAD) beats an averaged stand-in (e.g. the ear midpoint).
    canonical = {n: d for n, d in canonical.items() if n not in averaged or d not in direct}
    parents = tuple(-1 for _ in names)
    return Layout("adhoc", names, parents, canonical)


def _sources(layout: Layout) -> list[tuple[int, list[int]]]:
    """List (canonical index, layout indices) pairs for every canonical joint the layout gives."""
    index = {j: i for i, j in enumerate(layout.joints)}
    groups: dict[int, list[int]] = {}
    for src, dst in layout.canonical.items():
        groups.setdefault(CANONICAL_INDEX[dst], []).append(index[src])
    return sorted(groups.items())


_AVERAGING: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _averaging(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """(21, J) matrix averaging each canonical joint's sources and (21,) source counts; cached
    per layout, as the node maps every body of every message with it."""
    key = (layout.joints, tuple(sorted(layout.canonical.items())))
    if key not in _AVERAGING:
        if len(_AVERAGING) > 64:  # ad-hoc layouts come from messages: keep the cache bounded
            _AVERAGING.clear()
        weights = np.zeros((NUM_JOINTS, len(layout.joints)))
        for dst, srcs in _sources(layout):
            weights[dst, srcs] = 1.0 / len(srcs)
        _AVERAGING[key] = (weights, (weights > 0).sum(axis=1).astype(np.float64))
    return _AVERAGING[key]


def map_to_canonical(positions: np.ndarray, layout: Layout, confidences: np.ndarray | None = None,
                     min_confidence: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Map (..., J_layout, 3) positions onto canonical (..., 21, 3) ones and a (..., 21) mask."""
    positions = np.asarray(positions, dtype=np.float64)
    n = len(layout.joints)
    if positions.ndim < 2 or positions.shape[-2:] != (n, 3):
        raise ValueError(f"layout {layout.name!r} expects (..., {n}, 3) positions, "
                         f"got {positions.shape}")
    valid = np.isfinite(positions).all(axis=-1)  # (..., J_layout)
    if confidences is not None:
        confidences = np.asarray(confidences, dtype=np.float64)
        if confidences.shape != positions.shape[:-1]:
            raise ValueError(f"confidences shape {confidences.shape} does not match "
                             f"positions {positions.shape[:-1]}")
        valid &= np.nan_to_num(confidences, nan=-np.inf) >= min_confidence
    weights, needed = _averaging(layout)
    clean = np.where(valid[..., None], positions, 0.0)
    # A canonical joint is present when all its sources are (averaged sources must all be).
    mask = (valid.astype(np.float64) @ (weights > 0).T == needed) & (needed > 0)
    out = weights @ clean  # (21, J) @ (..., J, 3)
    return np.where(mask[..., None], out, 0.0).astype(np.float32), mask


def map_from_canonical(positions: np.ndarray, mask: np.ndarray,
                       layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Write canonical (..., 21, 3) positions into a layout; no unique source means invalid."""
    positions = np.asarray(positions, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    if positions.shape[-2:] != (NUM_JOINTS, 3) or mask.shape != positions.shape[:-1]:
        raise ValueError(f"expected (..., {NUM_JOINTS}, 3) positions and matching mask, got "
                         f"{positions.shape} and {mask.shape}")
    lead = positions.shape[:-2]
    n = len(layout.joints)
    out = np.zeros(lead + (n, 3), dtype=np.float32)
    valid = np.zeros(lead + (n,), dtype=bool)
    for dst, srcs in _sources(layout):
        if len(srcs) != 1:
            continue  # an averaged stand-in (e.g. ears for head) has no unique inverse
        out[..., srcs[0], :] = np.where(mask[..., dst, None], positions[..., dst, :], 0.0)
        valid[..., srcs[0]] = mask[..., dst]
    return out, valid


def layout_presence(layout_name: str) -> np.ndarray:
    """Return a (21,) bool array: which canonical joints the named layout provides."""
    present = np.zeros(NUM_JOINTS, dtype=bool)
    for dst, _ in _sources(get_layout(layout_name)):
        present[dst] = True
    return present
