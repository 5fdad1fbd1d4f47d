"""BVH parsing, forward kinematics and the REP-103 conversion, on synthetic and real clips."""

import time

import numpy as np
import pytest

from emotion_node.skeleton.bvh import read_bvh, read_bvh_canonical
from emotion_node.skeleton.layouts import CANONICAL_JOINTS, CANONICAL_PARENTS, LAYOUTS

C = {n: i for i, n in enumerate(CANONICAL_JOINTS)}

SYNTH = """HIERARCHY
ROOT joint_Root
{{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Base
  {{
    OFFSET 5 5 5
    CHANNELS 6 Xposition Yposition Zposition {order}
    JOINT Tip
    {{
      OFFSET 10 0 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {{
        OFFSET 0 3 0
      }}
    }}
  }}
}}
MOTION
Frames: 2
Frame Time: 0.5
0 0 0 0 0 0  20 100 -30 {a} {b} 0  0 0 0
0 0 0 0 0 0  20 100 -30 0 0 0  0 0 0
"""


def _rot(axis, deg):
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i] = m[j, j] = c
    m[i, j], m[j, i] = -s, s
    return m


@pytest.mark.parametrize("order,a,b,mats", [
    ("Zrotation Xrotation Yrotation", 90, 30, lambda: _rot(2, 90) @ _rot(0, 30)),
    ("Xrotation Zrotation Yrotation", 90, 30, lambda: _rot(0, 90) @ _rot(2, 30)),
])
def test_forward_kinematics_matches_hand_computation(tmp_path, order, a, b, mats):
    path = tmp_path / "synth.bvh"
    path.write_text(SYNTH.format(order=order, a=a, b=b))
    motion = read_bvh(path)
    assert motion.joint_names == ["Base", "Tip"] and motion.parents == [-1, 0]
    assert motion.fps == 2.0 and motion.positions.shape == (2, 2, 3)
    base = np.array([20.0, 100.0, -30.0])  # position channels replace OFFSET (5 5 5)
    tip = base + mats() @ np.array([10.0, 0.0, 0.0])  # no position channels: OFFSET used
    to_rep = lambda v: np.array([v[2], v[0], v[1]]) / 100.0  # noqa: E731
    np.testing.assert_allclose(motion.positions[0, 0], to_rep(base), atol=1e-6)
    np.testing.assert_allclose(motion.positions[0, 1], to_rep(tip), atol=1e-6)
    np.testing.assert_allclose(motion.positions[1, 1], to_rep(base + [10, 0, 0]), atol=1e-6)


@pytest.mark.parametrize("mutate,line", [
    (lambda s: s.replace("OFFSET 10 0 0", "OFFSET 10 zero 0"), 12),
    (lambda s: s.replace("Frames: 2", "Frames: 3"), 22),
    (lambda s: s.replace("CHANNELS 3 Zrotation", "CHANNELS 3 Wrotation"), 13),
    (lambda s: s.replace("MOTION", "MOTON"), None),
])
def test_malformed_file_names_file_and_line(tmp_path, mutate, line):
    path = tmp_path / "bad.bvh"
    path.write_text(mutate(SYNTH.format(order="Zrotation Xrotation Yrotation", a=0, b=0)))
    with pytest.raises(ValueError, match="bad.bvh") as err:
        read_bvh(path)
    if line is not None:
        assert f"bad.bvh:{line}:" in str(err.value)


def test_real_clip_structure(clip_path):
    motion = read_bvh(clip_path("bow", "active"))
    assert motion.positions.shape == (128, 21, 3) and motion.fps == 30.0
    assert tuple(motion.joint_names) == LAYOUTS["bandai"].joints  # no joint_Root, no End Sites
    assert tuple(motion.parents) == CANONICAL_PARENTS


@pytest.mark.parametrize("content,style", [("walk", "normal"), ("dash", "angry"),
                                           ("bow", "tired"), ("byebye", "happy")])
def test_bone_lengths_constant(clip_path, content, style):
    pos, mask, _ = read_bvh_canonical(clip_path(content, style), head_centre_m=0.0)
    assert mask.all()
    child = np.arange(1, 21)
    lengths = np.linalg.norm(pos[:, child] - pos[:, list(CANONICAL_PARENTS[1:])], axis=-1)
    rel_std = lengths.std(axis=0) / lengths.mean(axis=0)
    assert rel_std.max() < 0.01, dict(zip(CANONICAL_JOINTS[1:], rel_std.round(4)))


def test_standing_frame_is_upright_in_metres(clip_path):
    pos, _, fps = read_bvh_canonical(clip_path("walk", "normal"))
    frame = pos[0]
    assert 1.4 <= frame[C["head"], 2] <= 2.0  # head centre, metres
    heights = frame[[C["head"], C["neck"], C["pelvis"], C["knee_l"]], 2]
    assert (np.diff(heights) < 0).all()  # Z is up
    feet = pos[:, [C["toe_l"], C["toe_r"], C["ankle_l"], C["ankle_r"]], 2]
    assert -0.05 < feet.min() < 0.08  # feet touch the floor at z = 0
    assert np.median(pos[:, C["pelvis"], 2]) > 0.8


def test_walk_is_horizontal_and_left_is_left(clip_path):
    pos, _, fps = read_bvh_canonical(clip_path("walk", "normal"))
    travel = pos[-1, C["pelvis"]] - pos[0, C["pelvis"]]
    assert np.linalg.norm(travel[:2]) > 2.0 and abs(travel[2]) < 0.1  # Z is up
    left = (pos[:, C["shoulder_l"]] - pos[:, C["shoulder_r"]]).mean(axis=0)
    # Facing the walking direction, the person's left is counter-clockwise about +Z.
    assert travel[0] * left[1] - travel[1] * left[0] > 0


def test_head_centre_offset(clip_path):
    raw, _, _ = read_bvh_canonical(clip_path("walk", "normal"), head_centre_m=0.0)
    moved, _, _ = read_bvh_canonical(clip_path("walk", "normal"))
    shift = np.linalg.norm(moved[:, C["head"]] - raw[:, C["head"]], axis=-1)
    np.testing.assert_allclose(shift, 0.09, atol=1e-4)
    np.testing.assert_array_equal(np.delete(moved, C["head"], 1), np.delete(raw, C["head"], 1))


def test_all_clips_parse_quickly(data_root):
    files = sorted((data_root / "data").glob("*.bvh"))
    assert len(files) == 144
    start = time.perf_counter()
    frames = sum(read_bvh(f).positions.shape[0] for f in files)
    assert time.perf_counter() - start < 10.0
    assert frames > 20000
