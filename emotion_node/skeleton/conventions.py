"""Mocap skeleton conventions, and the reader of a lab's motion files into canonical joints.

A convention is one row of data: its joint names as a whole set, mapped onto canonical joints.
The same name means different joints in different conventions (`LeftShoulder` is the clavicle
in CMU, Mixamo, OptiTrack and Perception Neuron files, but the shoulder joint beside a
`LeftCollar`), so a file's joint set is matched against each convention as a whole, never name
by name. Axes and units are then told from the skeleton itself (`frames`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from emotion_node.skeleton.bvh_parse import BvhSkeleton, read_skeleton
from emotion_node.skeleton.frames import detect_unit, up_axis
from emotion_node.skeleton.joint_arrays import read_joint_arrays
from emotion_node.skeleton.layouts import (
    CANONICAL_INDEX, CANONICAL_JOINTS, LAYOUTS, NUM_JOINTS, Layout, map_to_canonical)

# Top of neck -> head centre (about ear height), so BVH heads match trackers' HEAD joints.
HEAD_CENTRE_OFFSET_M = 0.09
NAMESPACE = r"[A-Za-z0-9_]+:"  # a Maya namespace, e.g. Mixamo's 'mixamorig:' / 'mixamorig1:'
ASSET_PREFIX = r"[A-Za-z0-9_]+:|[A-Za-z0-9]+_"  # ... or a Motive asset name, e.g. 'Skeleton_'
MIN_PLACED = 15  # canonical joints (of 21) a detected convention must give
ARRAY_FPS = 30.0  # assumed when an array file gives no frame rate
JOINT_MAP = "joint_map"  # the convention name reported when a user's joint map was used
JointMapArg = str | Path | Mapping[str, str] | None


@dataclass(frozen=True)
class Convention:
    """A mocap convention: its joint names as a whole set, mapped onto canonical joints."""

    name: str
    joints: Mapping[str, str | None]  # joint name -> canonical joint (None: known, unused)
    signature: tuple[str, ...]        # all present, or the convention is not considered
    head: str | None = None           # joint at the top of the neck, moved to the head centre
    prefix: str = NAMESPACE           # regex of a name prefix most joints carry, stripped


def _sides(template: Mapping[str, str | None], left: str = "Left",
           right: str = "Right") -> dict[str, str | None]:
    """Expand {'{S}Arm': 'shoulder_{s}'} templates into left and right entries."""
    return {src.format(S=side): None if dst is None else dst.format(s=s)
            for src, dst in template.items() for side, s in ((left, "l"), (right, "r"))}


# Mixamo / CMU / OptiTrack / Perception Neuron limbs: {S}Shoulder is the clavicle.
_ARM_LEG = {"{S}Shoulder": "clavicle_{s}", "{S}Arm": "shoulder_{s}", "{S}ForeArm": "elbow_{s}",
            "{S}Hand": "wrist_{s}", "{S}UpLeg": "hip_{s}", "{S}Leg": "knee_{s}",
            "{S}Foot": "ankle_{s}", "{S}ToeBase": "toe_{s}"}
# Vicon-style limbs: {S}Collar is the clavicle and {S}Shoulder the shoulder joint.
_COLLAR = {"{S}Collar": "clavicle_{s}", "{S}Shoulder": "shoulder_{s}", "{S}Elbow": "elbow_{s}",
           "{S}Wrist": "wrist_{s}", "{S}Hip": "hip_{s}", "{S}Knee": "knee_{s}",
           "{S}Ankle": "ankle_{s}", "{S}Toe": "toe_{s}"}
_XSENS = {"{S}Shoulder": "clavicle_{s}", "{S}UpperArm": "shoulder_{s}", "{S}ForeArm": "elbow_{s}",
          "{S}Hand": "wrist_{s}", "{S}UpperLeg": "hip_{s}", "{S}LowerLeg": "knee_{s}",
          "{S}Foot": "ankle_{s}", "{S}Toe": "toe_{s}"}
_MOTIVE = {"{S}Shoulder": "clavicle_{s}", "{S}UArm": "shoulder_{s}", "{S}FArm": "elbow_{s}",
           "{S}Hand": "wrist_{s}", "{S}Thigh": "hip_{s}", "{S}Shin": "knee_{s}",
           "{S}Foot": "ankle_{s}", "{S}Toe": "toe_{s}"}
_BIOVISION = {"{S}Collar": "clavicle_{s}", "{S}UpArm": "shoulder_{s}", "{S}LowArm": "elbow_{s}",
              "{S}Hand": "wrist_{s}", "{S}UpLeg": "hip_{s}", "{S}LowLeg": "knee_{s}",
              "{S}Foot": "ankle_{s}"}
# SMPL's foot joint sits at the ball of the foot: the toe; its hand joints are left out.
_SMPL = {"{S}_collar": "clavicle_{s}", "{S}_shoulder": "shoulder_{s}", "{S}_elbow": "elbow_{s}",
         "{S}_wrist": "wrist_{s}", "{S}_hand": None, "{S}_hip": "hip_{s}", "{S}_knee": "knee_{s}",
         "{S}_ankle": "ankle_{s}", "{S}_foot": "toe_{s}"}
_SMPL_TRUNK = {"pelvis": "pelvis", "spine1": None, "spine2": "spine", "spine3": "chest",
               "neck": "neck", "head": "head"}
_SPINE_3 = {"Hips": "pelvis", "Neck": "neck", "Head": "head"}

# Row order breaks exact ties. Spine joints: "spine" is the one near the waist, "chest" the
# one carrying the clavicles (as Bandai's Spine and Chest).
CONVENTIONS: tuple[Convention, ...] = (
    Convention("bandai", {**LAYOUTS["bandai"].canonical, "joint_Root": None},
               ("Shoulder_L", "UpperArm_L", "UpperLeg_L", "Toes_L"), head="Head"),
    # CMU mocap as BVH (31 joints): hip joints beside the pelvis, lower back, two neck joints.
    Convention("cmu", {**_SPINE_3, "LowerBack": None, "Spine": "spine", "Spine1": "chest",
                       "Neck1": None, "LHipJoint": None, "RHipJoint": None, "LThumb": None,
                       "RThumb": None, **_sides(_ARM_LEG),
                       **_sides({"{S}FingerBase": None, "{S}HandIndex1": None})},
               ("LHipJoint", "RHipJoint", "LowerBack"), head="Head"),
    # CMU retargeted to 21 joints: no hip joints, lower back, second neck joint or fingers.
    Convention("cmu21", {**_SPINE_3, "Spine": "spine", "Spine1": "chest", **_sides(_ARM_LEG)},
               ("Spine", "Spine1", "LeftArm", "LeftUpLeg"), head="Head"),
    # Mixamo: three spine joints (Spine2 carries the clavicles); fingers, *_End tips ignored.
    Convention("mixamo", {**_SPINE_3, "Spine": None, "Spine1": "spine", "Spine2": "chest",
                          "HeadTop_End": None, **_sides(_ARM_LEG),
                          **_sides({"{S}Toe_End": None})},
               ("Spine1", "Spine2", "LeftArm", "LeftUpLeg"), head="Head"),
    # Xsens MVN: a spine named by vertebrae.
    Convention("xsens", {"Pelvis": "pelvis", "L5": None, "L3": "spine", "T12": None,
                         "T8": "chest", "Neck": "neck", "Head": "head", **_sides(_XSENS)},
               ("Pelvis", "L5", "T8"), head="Head"),
    # OptiTrack Motive exports with FBX-style names (Spine1 or Chest), often behind the asset
    # name ('Skeleton_Hips').
    Convention("optitrack", {**_SPINE_3, "Spine": "spine", "Spine1": "chest", "Chest": "chest",
                             **_sides(_ARM_LEG)},
               ("Hips", "Spine", "LeftArm", "LeftUpLeg"), head="Head", prefix=ASSET_PREFIX),
    # OptiTrack Motive's own segment names.
    Convention("optitrack_motive", {"Hip": "pelvis", "Ab": "spine", "Chest": "chest",
                                    "Neck": "neck", "Head": "head", **_sides(_MOTIVE, "L", "R")},
               ("Ab", "LUArm", "RUArm"), head="Head", prefix=ASSET_PREFIX),
    # Vicon-style: collars are the clavicles, so LeftShoulder is the shoulder joint here.
    Convention("vicon", {**_SPINE_3, "Spine": "spine", "Spine1": "chest", "Spine2": None,
                         "Neck1": None, **_sides(_COLLAR)},
               ("LeftCollar", "RightCollar", "LeftElbow"), head="Head"),
    # Older Vicon / Motion Analysis exports: Ab and Chest instead of Spine joints.
    Convention("vicon_ab_chest", {**_SPINE_3, "Ab": "spine", "Chest": "chest",
                                  **_sides(_COLLAR)},
               ("Ab", "Chest", "LeftCollar", "LeftElbow"), head="Head"),
    # The original Biovision skeleton: no spine or toe joints.
    Convention("biovision", {**_SPINE_3, "Chest": "chest", **_sides(_BIOVISION)},
               ("LeftCollar", "LeftUpArm", "LeftLowArm"), head="Head"),
    # Perception Neuron (Axis Neuron): four spine joints, Spine3 carries the clavicles; fingers
    # ignored, toes often absent (then masked).
    Convention("perception_neuron", {**_SPINE_3, "Spine": None, "Spine1": "spine",
                                     "Spine2": None, "Spine3": "chest", **_sides(_ARM_LEG)},
               ("Spine1", "Spine3", "LeftArm", "LeftUpLeg"), head="Head"),
    # Perception Neuron Studio / Axis Studio: three spine joints and two neck joints.
    Convention("perception_neuron_studio", {**_SPINE_3, "Spine": None, "Spine1": "spine",
                                            "Spine2": "chest", "Neck1": None,
                                            **_sides(_ARM_LEG)},
               ("Spine2", "Neck1", "LeftArm", "LeftUpLeg"), head="Head"),
    # SMPL / SMPL-X joints (AMASS): the head joint is near the head centre already; jaw, eyes,
    # hands and fingers ignored.
    Convention("smpl", {**_SMPL_TRUNK, **_sides(_SMPL, "left", "right")},
               ("pelvis", "spine3", "left_collar"), head=None),
    # SMPL exported as BVH: Pelvis, L_Hip, ..., L_Collar (names match case-insensitively).
    Convention("smpl_bvh", {**_SMPL_TRUNK, **_sides(_SMPL, "L", "R")},
               ("pelvis", "spine3", "L_collar"), head=None),
)


@dataclass(frozen=True)
class Match:
    """A convention (or joint map) fitted to a file's joint names."""

    convention: str
    canonical: dict[str, str]  # file joint name -> canonical joint
    head: str | None           # file joint moved to the head centre
    unplaced: tuple[str, ...]  # file joints it does not know: ignored
    score: tuple[int, ...] = ()


def strip_prefix(names: Sequence[str], pattern: str) -> list[str]:
    """Names without the prefix (matching `pattern`) that at least half of them share."""
    found = [m.group(0) if (m := re.match(pattern, n)) and m.end() < len(n) else None
             for n in names]
    counts = Counter(p for p in found if p)
    if not counts:
        return list(names)
    prefix, count = counts.most_common(1)[0]
    if 2 * count < len(names):
        return list(names)  # e.g. Bandai's 'Shoulder_L': no prefix most names share
    return [n[len(prefix):] if f == prefix else n for n, f in zip(names, found)]


def match_convention(names: Sequence[str], convention: Convention) -> Match:
    """Fit one convention to a file's joint names (case-insensitive, after its prefix)."""
    bare = [n.lower() for n in strip_prefix(names, convention.prefix)]
    table = {k.lower(): v for k, v in convention.joints.items()}
    canonical = {n: t for n, b in zip(names, bare) if (t := table.get(b)) is not None}
    unplaced = tuple(n for n, b in zip(names, bare) if b not in table)
    head_key = convention.head.lower() if convention.head else None
    head = next((n for n, b in zip(names, bare) if b == head_key), None)
    present = set(bare)
    signed = all(s.lower() in present for s in convention.signature)
    missing = sum(1 for k, v in table.items() if v is not None and k not in present)
    # Whole-set score: signature, canonical joints given, file joints known, fewest missing.
    score = (int(signed), len(set(canonical.values())), len(names) - len(unplaced), -missing,
             len(convention.signature))
    return Match(convention.name, canonical, head, unplaced, score)


def detect_convention(names: Sequence[str], source: str = "joints") -> Match:
    """The convention that fits the whole joint set best, or a ValueError saying what to do."""
    best = max((match_convention(names, c) for c in CONVENTIONS), key=lambda m: m.score)
    if best.score[0] and best.score[1] >= MIN_PLACED:
        return best
    given = set(best.canonical.values())
    lacking = [j for j in CANONICAL_JOINTS if j not in given]
    shown = list(best.unplaced[:30]) + ([f"... {len(best.unplaced) - 30} more"]
                                        if len(best.unplaced) > 30 else [])
    raise ValueError(
        f"{source}: no known skeleton convention fits its {len(names)} joints (closest: "
        f"{best.convention}, giving {len(given)} of {NUM_JOINTS} canonical joints; without "
        f"{lacking}). Joints it could not place: {shown}. Pass a joint map with --joint-map "
        'FILE (joint_map= in Python): a JSON object {"their joint": "canonical joint", ...} '
        f"onto the canonical joints {list(CANONICAL_JOINTS)}")


def check_joint_map(mapping: Mapping, source: str) -> dict[str, str]:
    """A joint map {file joint: canonical joint}; bad entries are a ValueError naming them."""
    bad = {k: v for k, v in mapping.items() if not isinstance(k, str) or not k
           or not isinstance(v, str) or v not in CANONICAL_INDEX}
    if bad or not mapping:
        raise ValueError(f"{source}: joint map entries must map a joint name onto a canonical "
                         f"joint; bad: {bad if mapping else 'the map is empty'}; canonical "
                         f"joints: {list(CANONICAL_JOINTS)}")
    return dict(mapping)


def load_joint_map(path: str | Path) -> dict[str, str]:
    """Read a JSON joint map {"their joint name": "canonical joint name", ...}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: joint map is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: joint map must be a JSON object {{\"their joint\": "
                         f"\"canonical joint\", ...}}, got a {type(data).__name__}")
    return check_joint_map(data, str(path))


def apply_joint_map(names: Sequence[str], mapping: Mapping[str, str], source: str) -> Match:
    """Place a file's joints by a user's map (exact name, else the name after a namespace)."""
    canonical = {}
    for name in names:
        key = name if name in mapping else name.rsplit(":", 1)[-1]
        if key in mapping:
            canonical[name] = mapping[key]
    if not canonical:
        raise ValueError(f"{source}: none of the joint map's names {sorted(mapping)[:20]} is a "
                         f"joint of this file; its joints: {list(names)[:40]}")
    head = next((n for n, c in canonical.items() if c == "head"), None)
    return Match(JOINT_MAP, canonical, head, tuple(n for n in names if n not in canonical))


def _match(names: Sequence[str], joint_map: JointMapArg, source: str) -> Match:
    """A user's joint map when given (detection skipped), else the detected convention."""
    if joint_map is None:
        return detect_convention(names, source)
    if isinstance(joint_map, Mapping):
        return apply_joint_map(names, check_joint_map(joint_map, "joint map"), source)
    return apply_joint_map(names, load_joint_map(joint_map), source)


@dataclass(frozen=True)
class MotionInfo:
    """How a motion file was read, for messages and tests."""

    source: str
    convention: str            # a CONVENTIONS name, or "joint_map"
    unit: str                  # a frames.UNITS name, or "scaled"
    scale: float               # file units -> metres
    up_axis: str               # the file axis that pointed up, e.g. "+Y"
    stature_m: float           # estimated from the limb bones, after scaling
    nan_entries: int           # (frame, canonical joint) entries masked for NaN input
    unplaced: tuple[str, ...]  # file joints ignored
    notes: tuple[str, ...] = ()


@dataclass
class CanonicalMotion:
    """A clip as canonical joints: metres, REP-103 frame, 0 where masked."""

    positions: np.ndarray  # (T, 21, 3) float32
    mask: np.ndarray       # (T, 21) bool
    fps: float
    info: MotionInfo


@dataclass(frozen=True)
class _Fit:
    """A file's layout and its way into REP-103 metres."""

    layout: Layout
    rotation: np.ndarray  # file axes -> REP-103
    scale: float          # file units -> metres
    unit: str
    up_axis: str
    stature_m: float


def _fit(raw: np.ndarray, names: Sequence[str], parents: Sequence[int], match: Match,
         source: str) -> _Fit:
    """Layout from the match; up axis and unit from its canonical joints in file units."""
    layout = Layout(match.convention, tuple(names), tuple(parents), dict(match.canonical))
    pos, mask = map_to_canonical(raw, layout)
    up, rotation = up_axis(pos, mask, source)
    unit, scale, stature_m = detect_unit(pos, mask, source)
    return _Fit(layout, rotation, scale, unit, up, stature_m)


def _finish(positions: np.ndarray, fit: _Fit, fps: float, match: Match, source: str,
            notes: Sequence[str]) -> CanonicalMotion:
    """Map REP-103 metre positions onto canonical joints and count joints lost to NaN."""
    pos, mask = map_to_canonical(positions, fit.layout)
    given = np.zeros(NUM_JOINTS, dtype=bool)
    given[[CANONICAL_INDEX[c] for c in match.canonical.values()]] = True
    nan_entries = int((~mask[:, given]).sum())
    info = MotionInfo(source, match.convention, fit.unit, fit.scale, fit.up_axis,
                      fit.stature_m, nan_entries, match.unplaced, tuple(notes))
    return CanonicalMotion(pos, mask, fps, info)


def _head_shift(skel: BvhSkeleton, j: int, rotation: np.ndarray, metres: float) -> np.ndarray:
    """(T, 3) float32 move of head joint j along its own bone axis: its OFFSET, turned with it."""
    length = np.linalg.norm(skel.offsets[j])
    # No OFFSET: the file's up axis, in the head's own frame.
    axis = skel.offsets[j] / length if length > 1e-9 else rotation[2]
    rots = rotation @ skel.rotations[:, j]  # joint-local axes -> REP-103
    return (rots @ axis * metres).astype(np.float32)


def read_bvh_motion(path: str | Path, joint_map: JointMapArg = None,
                    head_centre_m: float = HEAD_CENTRE_OFFSET_M) -> CanonicalMotion:
    """Read a BVH file of any known convention (or a joint map's) as canonical joints."""
    path = Path(path)
    skel = read_skeleton(path)
    match = _match(skel.names, joint_map, str(path))
    fit = _fit(skel.positions, skel.names, skel.parents, match, str(path))
    positions = ((skel.positions @ fit.rotation.T) * fit.scale).astype(np.float32)
    if head_centre_m and match.head is not None:
        j = skel.names.index(match.head)
        positions[:, j] += _head_shift(skel, j, fit.rotation, head_centre_m)
    return _finish(positions, fit, skel.fps, match, str(path), ())


def read_array_motion(path: str | Path, joint_map: JointMapArg = None) -> CanonicalMotion:
    """Read a .npz/.npy joint array (SMPL / SMPL-X order unless named) as canonical joints."""
    arrays = read_joint_arrays(path)
    match = _match(arrays.names, joint_map, str(path))
    fit = _fit(arrays.positions, arrays.names, [-1] * len(arrays.names), match, str(path))
    positions = ((arrays.positions @ fit.rotation.T) * fit.scale).astype(np.float32)
    notes = []
    fps = arrays.fps
    if fps is None:
        fps = ARRAY_FPS
        notes.append(f"no frame rate in the file: {ARRAY_FPS:g} fps assumed")
    if match.head is not None:
        notes.append("head joint left where it is: an array carries no head rotation")
    return _finish(positions, fit, fps, match, str(path), notes)


def read_motion(path: str | Path, joint_map: JointMapArg = None) -> CanonicalMotion:
    """Read a .bvh, .npz or .npy motion file as canonical joints, with how it was read."""
    suffix = Path(path).suffix.lower()
    if suffix == ".bvh":
        return read_bvh_motion(path, joint_map)
    if suffix in (".npz", ".npy"):
        return read_array_motion(path, joint_map)
    raise ValueError(f"{path}: unsupported motion file {suffix!r}; supported: .bvh, .npz, .npy")


def read_motion_canonical(path: str | Path, joint_map: JointMapArg = None
                          ) -> tuple[np.ndarray, np.ndarray, float]:
    """Canonical positions (T, 21, 3) float32 metres REP-103, mask (T, 21) and fps of a file.

    `joint_map`: a JSON file (or dict) {"their joint": "canonical joint"}; skips detection.
    """
    motion = read_motion(path, joint_map)
    return motion.positions, motion.mask, motion.fps
