"""Mocap conventions: a real Bandai clip rewritten per convention (names, extra joints, units,
up axis) reads back to the same canonical joints; SMPL arrays; joint maps; the errors."""

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from emotion_node.skeleton.bvh import BVH_TO_REP103, read_bvh, read_bvh_canonical
from emotion_node.skeleton.bvh_parse import parse_bvh, read_skeleton
from emotion_node.skeleton.conventions import (
    CONVENTIONS, load_joint_map, read_motion, read_motion_canonical)
from emotion_node.skeleton.frames import rotation_to_rep103, stature
from emotion_node.skeleton.joint_arrays import SMPL_JOINT_NAMES
from emotion_node.skeleton.layouts import (
    CANONICAL_INDEX, CANONICAL_JOINTS, LAYOUTS, map_to_canonical)

C = CANONICAL_INDEX
FRAMES = 60
ROT = ["Zrotation", "Xrotation", "Yrotation"]
# Canonical-order names: trunk (pelvis, spine, chest, neck, head), arm (clavicle, shoulder,
# elbow, wrist) and leg (hip, knee, ankle, toe) templates; None: not in the convention.
ARM_LEG = (("{S}Shoulder", "{S}Arm", "{S}ForeArm", "{S}Hand"),
           ("{S}UpLeg", "{S}Leg", "{S}Foot", "{S}ToeBase"))
COLLAR = (("{S}Collar", "{S}Shoulder", "{S}Elbow", "{S}Wrist"),
          ("{S}Hip", "{S}Knee", "{S}Ankle", "{S}Toe"))


def names(trunk, limbs, left="Left", right="Right"):
    """21 joint names in canonical order from a trunk and (arm, leg) templates."""
    arm, leg = limbs
    side = lambda tpl, s: tuple(None if t is None else t.format(S=s) for t in tpl)  # noqa: E731
    return (tuple(trunk) + side(arm, left) + side(arm, right) + side(leg, left)
            + side(leg, right))


@dataclass
class Node:
    """One BVH joint being rewritten: parent by name, OFFSET, channels and their columns."""

    name: str
    parent: str | None
    offset: np.ndarray
    channels: list[str]
    values: np.ndarray  # (T, len(channels))


@dataclass
class Case:
    """How to turn the Bandai clip into one convention's file, and what should come back."""

    convention: str
    joints: tuple  # 21 names in canonical order (None: renamed to an unknown joint)
    inserts: tuple = ()  # (child, new joint above it, share of the child's OFFSET it takes)
    leaves: tuple = ()   # (parent, new leaf joint)
    prefix: str = ""
    factor: float = 1.0  # multiplies centimetres
    unit: str = "centimetres"
    z_up: bool = False
    frame_time: float = 1 / 30
    masked: tuple = ()  # canonical joints the convention lacks
    head_shift: float = 0.09  # metres the head joint moves to the head centre


def bandai_nodes(path: Path) -> list[Node]:
    """The clip's joints as Nodes, first FRAMES frames."""
    joints, motion, _ = parse_bvh(path)
    return [Node(j.name, joints[j.parent].name if j.parent >= 0 else None, j.offset.copy(),
                 list(j.channels), motion[:FRAMES, j.first_channel:j.first_channel
                                          + len(j.channels)].copy()) for j in joints]


def insert_above(nodes, child, new, share):
    """A new rotation-only joint between `child` and its parent, taking share of its OFFSET."""
    c = next(n for n in nodes if n.name == child)
    moved = share * c.offset
    for k, ch in enumerate(c.channels):  # position channels replace OFFSET: shift them too
        if ch.endswith("position"):
            c.values[:, k] -= moved["XYZ".index(ch[0])]
    nodes.insert(nodes.index(c), Node(new, c.parent, moved, list(ROT),
                                      np.zeros((len(c.values), 3))))
    c.parent, c.offset = new, c.offset - moved


def rewrite(nodes, case: Case) -> list[Node]:
    """Rename, add joints, change units and up axis as the case says."""
    nodes = [replace(n, offset=n.offset.copy(), values=n.values.copy()) for n in nodes]
    rename = {b: (n or f"Extra{i}") for i, (b, n) in
              enumerate(zip(LAYOUTS["bandai"].joints, case.joints))}
    rename["joint_Root"] = "Reference"
    for n in nodes:
        n.name, n.parent = rename[n.name], rename.get(n.parent, n.parent)
    for child, new, share in case.inserts:
        insert_above(nodes, child, new, share)
    for parent, new in case.leaves:
        nodes.append(Node(new, parent, np.array([0.0, 2.0, 1.0]), list(ROT),
                          np.zeros((FRAMES, 3))))
    if case.z_up:  # the world root turns +90 deg about X: Y up becomes Z up, left stays +X
        root = nodes[0]
        root.values[:, root.channels.index("Xrotation")] = 90.0
    else:  # the Hips become the root
        nodes = [replace(n, parent=None) if n.parent == "Reference" else n for n in nodes[1:]]
    for n in nodes:
        n.offset = n.offset * case.factor
        pos = [k for k, ch in enumerate(n.channels) if ch.endswith("position")]
        n.values[:, pos] *= case.factor
        if case.prefix and n.name != "Reference":
            n.name = case.prefix + n.name
            n.parent = None if n.parent is None else (
                n.parent if n.parent == "Reference" else case.prefix + n.parent)
    return nodes


def write_bvh(nodes: list[Node], path: Path, frame_time: float = 1 / 30) -> Path:
    """Write Nodes as a BVH file (End Sites under leaves)."""
    kids: dict = {}
    for n in nodes:
        kids.setdefault(n.parent, []).append(n)
    lines, order = ["HIERARCHY"], []

    def emit(node, pad):
        lines.extend([f"{pad}{'JOINT' if node.parent else 'ROOT'} {node.name}", pad + "{",
                      f"{pad}  OFFSET {' '.join(f'{v:.9g}' for v in node.offset)}",
                      f"{pad}  CHANNELS {len(node.channels)} {' '.join(node.channels)}"])
        order.append(node)
        for k in kids.get(node.name, []):
            emit(k, pad + "  ")
        if not kids.get(node.name):
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 1 0",
                          pad + "  }"])
        lines.append(pad + "}")

    emit(kids[None][0], "")
    values = np.concatenate([n.values for n in order], axis=1)
    lines += ["MOTION", f"Frames: {len(values)}", f"Frame Time: {frame_time:.7f}"]
    lines += [" ".join(f"{v:.9g}" for v in row) for row in values]
    path.write_text("\n".join(lines) + "\n")
    return path


CASES = [
    Case("cmu", names(("Hips", "Spine", "Spine1", "Neck", "Head"), ARM_LEG),
         inserts=(("LeftUpLeg", "LHipJoint", 0.5), ("RightUpLeg", "RHipJoint", 0.5),
                  ("Spine", "LowerBack", 0.0), ("Head", "Neck1", 0.5)),
         leaves=(("LeftHand", "LeftFingerBase"), ("LeftFingerBase", "LeftHandIndex1"),
                 ("LeftHand", "LThumb"), ("RightHand", "RightFingerBase"),
                 ("RightFingerBase", "RightHandIndex1"), ("RightHand", "RThumb")),
         factor=0.45 / 2.54, unit="scaled", frame_time=1 / 120),  # CMU's own units
    Case("cmu21", names(("Hips", "Spine", "Spine1", "Neck", "Head"), ARM_LEG),
         factor=0.01, unit="metres"),
    Case("mixamo", names(("Hips", "Spine1", "Spine2", "Neck", "Head"), ARM_LEG),
         inserts=(("Spine1", "Spine", 0.4),),
         leaves=(("Head", "HeadTop_End"), ("LeftHand", "LeftHandThumb1"),
                 ("LeftHand", "LeftHandIndex1"), ("LeftHandIndex1", "LeftHandIndex2"),
                 ("RightHand", "RightHandIndex1"), ("LeftToeBase", "LeftToe_End")),
         prefix="mixamorig:", z_up=True),
    Case("xsens", names(("Pelvis", "L3", "T8", "Neck", "Head"),
                        (("{S}Shoulder", "{S}UpperArm", "{S}ForeArm", "{S}Hand"),
                         ("{S}UpperLeg", "{S}LowerLeg", "{S}Foot", "{S}Toe"))),
         inserts=(("L3", "L5", 0.5), ("T8", "T12", 0.5)), factor=0.01, unit="metres",
         z_up=True, frame_time=1 / 60),
    Case("optitrack", names(("Hips", "Spine", "Chest", "Neck", "Head"), ARM_LEG),
         prefix="Skeleton_", factor=0.01, unit="metres", frame_time=1 / 120),
    Case("optitrack_motive", names(("Hip", "Ab", "Chest", "Neck", "Head"),
                                   (("{S}Shoulder", "{S}UArm", "{S}FArm", "{S}Hand"),
                                    ("{S}Thigh", "{S}Shin", "{S}Foot", "{S}Toe")), "L", "R"),
         factor=10.0, unit="millimetres"),
    Case("vicon", names(("Hips", "Spine", "Spine1", "Neck", "Head"), COLLAR),
         factor=10.0, unit="millimetres", z_up=True, frame_time=1 / 120),
    Case("vicon_ab_chest", names(("Hips", "Ab", "Chest", "Neck", "Head"), COLLAR),
         factor=1 / 2.54, unit="inches"),
    Case("biovision", names(("Hips", None, "Chest", "Neck", "Head"),
                            (("{S}Collar", "{S}UpArm", "{S}LowArm", "{S}Hand"),
                             ("{S}UpLeg", "{S}LowLeg", "{S}Foot", None))),
         masked=("spine", "toe_l", "toe_r")),
    Case("perception_neuron", names(("Hips", "Spine1", "Spine3", "Neck", "Head"),
                                    (ARM_LEG[0], ("{S}UpLeg", "{S}Leg", "{S}Foot", None))),
         inserts=(("Spine1", "Spine", 0.3), ("Spine3", "Spine2", 0.5)),
         leaves=(("RightHand", "RightHandThumb1"), ("RightHand", "RightInHandIndex"),
                 ("RightInHandIndex", "RightHandIndex1"), ("LeftHand", "LeftHandThumb1")),
         masked=("toe_l", "toe_r")),
    Case("perception_neuron_studio", names(("Hips", "Spine1", "Spine2", "Neck", "Head"),
                                           ARM_LEG),
         inserts=(("Spine1", "Spine", 0.3), ("Head", "Neck1", 0.5)),
         leaves=(("LeftHand", "LeftHandThumb1"),), z_up=True),
    Case("smpl_bvh", names(("Pelvis", "Spine2", "Spine3", "Neck", "Head"),
                           (("{S}_Collar", "{S}_Shoulder", "{S}_Elbow", "{S}_Wrist"),
                            ("{S}_Hip", "{S}_Knee", "{S}_Ankle", "{S}_Foot")), "L", "R"),
         inserts=(("Spine2", "Spine1", 0.5),),
         leaves=(("L_Wrist", "L_Hand"), ("R_Wrist", "R_Hand")),
         factor=0.01, unit="metres", z_up=True, head_shift=0.0),
]


@pytest.fixture(scope="module")
def walk(clip_path):
    """(Bandai path, its Nodes, canonical reference, reference with the raw head joint)."""
    path = clip_path("walk", "happy")
    ref = read_bvh_canonical(path)
    raw = read_bvh_canonical(path, head_centre_m=0.0)
    return path, bandai_nodes(path), ref[0][:FRAMES], raw[0][:FRAMES]


def old_read_bvh_canonical(path):
    """The reader before conventions: Y up, centimetres, Bandai layout (the reference)."""
    skel = read_skeleton(path)
    positions = ((skel.positions @ BVH_TO_REP103.T) * 0.01).astype(np.float32)
    j = skel.names.index("Head")
    axis = skel.offsets[j] / np.linalg.norm(skel.offsets[j])
    rots = BVH_TO_REP103 @ skel.rotations
    positions[:, j] += (rots[:, j] @ axis * 0.09).astype(np.float32)
    pos, mask = map_to_canonical(positions, LAYOUTS["bandai"])
    return pos, mask, skel.fps


# read_bvh_canonical before conventions.py, on dataset-1_walk_happy_001.bvh (metres, REP-103).
PINNED = {(0, "pelvis"): (-4.62122, 0.0100583, 0.923408),
          (0, "head"): (-4.6059465, 0.0311199, 1.4807253),
          (0, "wrist_l"): (-4.7523627, 0.2263547, 0.8763828),
          (0, "toe_l"): (-4.8117905, 0.0707016, 0.1320967),
          (59, "pelvis"): (-1.75612, -0.0428094, 0.888999),
          (59, "head"): (-1.7766966, -0.0175234, 1.4496868),
          (59, "wrist_r"): (-1.7710694, -0.2434497, 0.8121925),
          (59, "toe_r"): (-1.6884468, -0.0187299, 0.0427458)}


def test_bandai_output_is_unchanged(walk):
    path = walk[0]
    old_pos, old_mask, old_fps = old_read_bvh_canonical(path)
    for pos, mask, fps in (read_bvh_canonical(path), read_motion_canonical(path)):
        assert pos.dtype == np.float32 and pos.shape == (213, 21, 3) and fps == old_fps == 30.0
        assert pos.tobytes() == old_pos.tobytes() and np.array_equal(mask, old_mask)
        for (t, joint), want in PINNED.items():
            np.testing.assert_allclose(pos[t, C[joint]], want, atol=2e-6)
    info = read_motion(path).info
    assert (info.convention, info.unit, info.scale, info.up_axis) == (
        "bandai", "centimetres", 0.01, "+Y")


@pytest.mark.parametrize("case", CASES, ids=[c.convention for c in CASES])
def test_every_convention_reads_back(walk, tmp_path, case):
    path = write_bvh(rewrite(walk[1], case), tmp_path / f"{case.convention}.bvh",
                     case.frame_time)
    motion = read_motion(path)
    info = motion.info
    assert (info.convention, info.unit, info.up_axis) == (
        case.convention, case.unit, "+Z" if case.z_up else "+Y")
    assert motion.fps == round(1 / case.frame_time) and motion.positions.shape == (FRAMES, 21, 3)
    want_mask = np.ones((FRAMES, 21), dtype=bool)
    want_mask[:, [C[j] for j in case.masked]] = False
    np.testing.assert_array_equal(motion.mask, want_mask)
    assert (motion.positions[~want_mask] == 0).all()
    ref, raw = walk[2], walk[3]
    scale = 1.0
    if case.unit == "scaled":  # no unit fits: scaled to a 1.7 m stature
        scale = 1.7 / stature(raw, np.ones((FRAMES, 21), dtype=bool))
        assert info.stature_m == pytest.approx(1.7)
    body = [i for i in range(21) if want_mask[0, i] and i != C["head"]]
    np.testing.assert_allclose(motion.positions[:, body], raw[:, body] * scale, atol=2e-4)
    if scale == 1.0 and case.head_shift:
        np.testing.assert_allclose(motion.positions[:, C["head"]], ref[:, C["head"]], atol=2e-4)
    shift = np.linalg.norm(motion.positions[:, C["head"]] - raw[:, C["head"]] * scale, axis=-1)
    np.testing.assert_allclose(shift, case.head_shift, atol=2e-4)  # to the head centre


def test_left_shoulder_is_the_clavicle_or_the_shoulder_by_the_whole_set(walk, tmp_path):
    cmu = write_bvh(rewrite(walk[1], replace(CASES[1], factor=1.0)), tmp_path / "cmu21.bvh")
    vicon = write_bvh(rewrite(walk[1], replace(CASES[6], factor=1.0, z_up=False)),
                      tmp_path / "vicon.bvh")
    for path, joint, other in ((cmu, "clavicle_l", "shoulder_l"),
                               (vicon, "shoulder_l", "clavicle_l")):
        raw = read_bvh(path)  # Y up, centimetres: the file's own joints, by name
        left_shoulder = raw.positions[:, raw.joint_names.index("LeftShoulder")]
        pos, mask, _ = read_motion_canonical(path)
        np.testing.assert_allclose(pos[:, C[joint]], left_shoulder, atol=1e-5)
        assert np.linalg.norm(pos[:, C[other]] - left_shoulder, axis=-1).min() > 0.03


def test_unknown_skeleton_names_joints_and_joint_map(walk, tmp_path):
    bones = tuple(f"Bone{i:02d}" for i in range(21))
    path = write_bvh(rewrite(walk[1], Case("none", bones)), tmp_path / "lab_take.bvh")
    with pytest.raises(ValueError) as err:
        read_motion_canonical(path)
    message = str(err.value)
    assert "lab_take.bvh" in message and "--joint-map" in message
    assert all(b in message for b in bones)
    with pytest.raises(ValueError, match="lab_take.bvh"):
        read_bvh_canonical(path)


def test_joint_map_places_a_lab_skeleton(walk, tmp_path):
    bones = tuple(f"Bone{i:02d}" for i in range(21))
    path = write_bvh(rewrite(walk[1], Case("none", bones, factor=0.01)), tmp_path / "lab.bvh")
    mapping = dict(zip(bones, CANONICAL_JOINTS))
    map_file = tmp_path / "map.json"
    map_file.write_text(json.dumps(mapping))
    assert load_joint_map(map_file) == mapping
    for joint_map in (map_file, mapping):
        motion = read_motion(path, joint_map=joint_map)
        assert (motion.info.convention, motion.info.unit) == ("joint_map", "metres")
        assert motion.mask.all()
        np.testing.assert_allclose(motion.positions, walk[2], atol=2e-4)
    partial = read_motion(path, joint_map={"Bone00": "pelvis", "Bone13": "hip_l",
                                           "Bone14": "knee_l", "Bone15": "ankle_l"})
    assert partial.mask[:, [0, 13, 14, 15]].all() and partial.mask.sum() == 4 * FRAMES
    with pytest.raises(ValueError, match="lab.bvh: none of the joint map's names"):
        read_motion(path, joint_map={"Nope": "pelvis"})


def test_bad_joint_map_names_file_and_entries(tmp_path):
    bad = tmp_path / "bad_map.json"
    bad.write_text(json.dumps({"Bone00": "pelvis", "Bone01": "belly", "Bone02": 3}))
    with pytest.raises(ValueError, match="bad_map.json") as err:
        load_joint_map(bad)
    assert "belly" in str(err.value) and "Bone02" in str(err.value)
    assert "Bone00" not in str(err.value).split("bad:")[1].split(";")[0]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json.*not valid JSON"):
        load_joint_map(broken)


def smpl_from_canonical(pos: np.ndarray) -> np.ndarray:
    """SMPL-24 joints (REP-103, metres) built from canonical ones."""
    src = {"pelvis": "pelvis", "spine2": "spine", "spine3": "chest", "neck": "neck",
           "head": "head"}
    for s, side in (("l", "left"), ("r", "right")):
        src.update({f"{side}_{a}": f"{b}_{s}" for a, b in (
            ("hip", "hip"), ("knee", "knee"), ("ankle", "ankle"), ("foot", "toe"),
            ("collar", "clavicle"), ("shoulder", "shoulder"), ("elbow", "elbow"),
            ("wrist", "wrist"))})
    out = np.zeros((len(pos), 24, 3))
    for i, name in enumerate(SMPL_JOINT_NAMES):
        if name in src:
            out[:, i] = pos[:, C[src[name]]]
    out[:, 3] = (pos[:, C["pelvis"]] + pos[:, C["spine"]]) / 2  # spine1
    for i, (w, e) in ((22, ("wrist_l", "elbow_l")), (23, ("wrist_r", "elbow_r"))):
        out[:, i] = pos[:, C[w]] + 0.3 * (pos[:, C[w]] - pos[:, C[e]])  # hands
    return out


def to_z_up(rep: np.ndarray) -> np.ndarray:
    """REP-103 -> an AMASS-style Z-up frame (left +X)."""
    return rep @ rotation_to_rep103(2, 1.0)


def test_smpl_arrays_read(walk, tmp_path):
    ref = walk[2]
    smpl = to_z_up(smpl_from_canonical(ref))
    np.savez(tmp_path / "amass.npz", joints=smpl, fps=np.array(60.0))
    np.save(tmp_path / "smpl22.npy", smpl[:, :22])
    extras = np.random.default_rng(0).normal(size=(FRAMES, 33, 3))
    np.save(tmp_path / "smplx.npy", np.concatenate([smpl[:, :22], extras], axis=1))
    y_up_cm = smpl_from_canonical(ref) @ BVH_TO_REP103 * 100.0  # raw SMPL: Y up; here in cm
    order = np.random.default_rng(1).permutation(24)
    np.savez(tmp_path / "named.npz", positions=y_up_cm[:, order],
             joint_names=np.array(SMPL_JOINT_NAMES)[order], mocap_framerate=120)
    want = {"amass.npz": (60.0, "metres", "+Z"), "smpl22.npy": (30.0, "metres", "+Z"),
            "smplx.npy": (30.0, "metres", "+Z"), "named.npz": (120.0, "centimetres", "+Y")}
    for name, (fps, unit, up) in want.items():
        motion = read_motion(tmp_path / name)
        assert (motion.fps, motion.info.unit, motion.info.up_axis) == (fps, unit, up), name
        assert motion.info.convention == "smpl" and motion.mask.all()
        np.testing.assert_allclose(motion.positions, ref, atol=1e-5, err_msg=name)
    assert any("30 fps assumed" in n for n in read_motion(tmp_path / "smpl22.npy").info.notes)


@pytest.mark.parametrize("shape", [(10, 23, 3), (10, 22), (10, 22, 2), (0, 22, 3)])
def test_wrong_array_shape_names_file_and_shape(tmp_path, shape):
    path = tmp_path / "wrong_shape.npy"
    np.save(path, np.zeros(shape))
    with pytest.raises(ValueError, match="wrong_shape.npy") as err:
        read_motion_canonical(path)
    assert str(shape) in str(err.value)


def test_npz_errors_name_file(tmp_path):
    np.savez(tmp_path / "poses.npz", poses=np.zeros((5, 156)))
    with pytest.raises(ValueError, match="poses.npz.*'poses'"):
        read_motion_canonical(tmp_path / "poses.npz")
    np.savez(tmp_path / "names.npz", joints=np.zeros((5, 24, 3)), joint_names=np.array(["a"]))
    with pytest.raises(ValueError, match=r"names.npz.*\(5, 24, 3\).*1 joint_names"):
        read_motion_canonical(tmp_path / "names.npz")
    with pytest.raises(ValueError, match="clip.txt.*unsupported"):
        read_motion_canonical(tmp_path / "clip.txt")


def test_nan_frames_are_masked_and_counted(walk, tmp_path):
    smpl = to_z_up(smpl_from_canonical(walk[2]))
    smpl[3:6, SMPL_JOINT_NAMES.index("left_wrist")] = np.nan
    smpl[7] = np.nan
    np.savez(tmp_path / "gaps.npz", joints=smpl, fps=30)
    motion = read_motion(tmp_path / "gaps.npz")
    want = np.ones((FRAMES, 21), dtype=bool)
    want[3:6, C["wrist_l"]] = False
    want[7] = False
    np.testing.assert_array_equal(motion.mask, want)
    assert np.isfinite(motion.positions).all() and (motion.positions[~want] == 0).all()
    assert motion.info.nan_entries == 3 + 21
    np.testing.assert_allclose(motion.positions[want], walk[2][want], atol=1e-5)


def test_nan_in_bvh_masks_the_joints_below(walk, tmp_path):
    nodes = rewrite(walk[1], CASES[1])
    elbow = next(n for n in nodes if n.name == "LeftForeArm")
    elbow.values[2, elbow.channels.index("Xrotation")] = np.nan
    motion = read_motion(write_bvh(nodes, tmp_path / "gap.bvh"))
    assert motion.info.nan_entries == 1 and not motion.mask[2, C["wrist_l"]]
    assert motion.mask.sum() == FRAMES * 21 - 1 and np.isfinite(motion.positions).all()


@pytest.mark.parametrize("axis", range(3))
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_rotation_to_rep103_is_proper_and_puts_up_on_z(axis, sign):
    rot = rotation_to_rep103(axis, sign)
    up = np.zeros(3)
    up[axis] = sign
    np.testing.assert_allclose(rot @ up, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(rot @ rot.T, np.eye(3))
    assert np.linalg.det(rot) == pytest.approx(1.0)
    if (axis, sign) == (1, 1.0):
        assert np.array_equal(rot, BVH_TO_REP103)


def test_every_convention_row_is_sound():
    assert len({c.name for c in CONVENTIONS}) == len(CONVENTIONS)
    for conv in CONVENTIONS:
        targets = {t for t in conv.joints.values() if t is not None}
        assert targets <= set(CANONICAL_JOINTS), conv.name
        assert set(conv.signature) <= set(conv.joints), conv.name
        assert conv.head is None or conv.joints[conv.head] == "head", conv.name
