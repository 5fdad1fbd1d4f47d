"""Input conversion: numpy -> message -> canonical frames, for rclpy and rosbags messages."""
from __future__ import annotations

import math

import numpy as np
import pytest

from emotion_node.ros import convert as cv
from emotion_node.ros.bag_io import message_typestore, rosbags_factory
from emotion_node.skeleton.layouts import CANONICAL_INDEX, NUM_JOINTS, get_layout, layout_presence


@pytest.fixture(scope='module')
def rclpy_types() -> cv.RclpyFactory:
    return cv.rclpy_factory()


@pytest.fixture(scope='module', params=['rclpy', 'rosbags'])
def types(request: pytest.FixtureRequest) -> cv.MessageFactory:
    """Both message flavours the builders and readers must handle."""
    if request.param == 'rclpy':
        return cv.rclpy_factory()
    return rosbags_factory(message_typestore())


def _bodies(n: int = 2, seed: int = 0) -> list[cv.BodyFrame]:
    """Plausible bodies: a random pose around a standing height, all joints seen."""
    rng = np.random.default_rng(seed)
    out = []
    for b in range(n):
        pos = rng.normal(0.0, 0.3, (NUM_JOINTS, 3)).astype(np.float32)
        pos[:, 2] += 1.0
        pos[:, 1] += b * 1.5
        out.append(cv.BodyFrame(str(b + 1), 0.0, pos, np.ones(NUM_JOINTS, bool), 'world'))
    return out


def _skeleton(types, body_id='1', layout='canonical', names=(), n=None, conf=None, pos=None):
    """One Skeleton message with raw (possibly invalid) content."""
    n = n if n is not None else len(get_layout(layout).joints) if layout else len(names)
    pos = np.zeros((n, 3)) if pos is None else pos
    points = [types.new('geometry_msgs/msg/Point', x=float(p[0]), y=float(p[1]), z=float(p[2]))
              for p in pos]
    conf = np.zeros(0) if conf is None else np.asarray(conf)
    return types.new('emotion_node/msg/Skeleton', body_id=body_id, layout=layout,
                     joint_names=list(names), positions=points, confidences=types.floats(conf))


def _array(types, skeletons, stamp=1.5):
    header = types.new('std_msgs/msg/Header', frame_id='cam',
                       stamp=types.new('builtin_interfaces/msg/Time', sec=1, nanosec=500_000_000))
    return types.new('emotion_node/msg/SkeletonArray', header=header, skeletons=skeletons)


@pytest.mark.parametrize('layout', ['canonical', 'bandai', 'k4abt', 'zed_body34', 'kinect_v2'])
def test_skeleton_round_trip(types, layout: str) -> None:
    bodies = _bodies(3)
    msg = cv.build_skeleton_array(types, (1_700_000_000, 123_456_789), 'world', bodies, layout)
    assert msg.header.stamp.sec == 1_700_000_000 and msg.header.stamp.nanosec == 123_456_789
    assert all(s.layout == layout for s in msg.skeletons)
    frames, rejections = cv.skeleton_array_to_frames(msg)
    assert rejections == []
    present = layout_presence(layout)
    for body, frame in zip(bodies, frames):
        assert frame.body_id == body.body_id and frame.frame_id == 'world'
        assert frame.stamp == pytest.approx(1_700_000_000.123456789, abs=1e-6)
        np.testing.assert_array_equal(frame.mask, present)
        np.testing.assert_allclose(frame.positions[present], body.positions[present], atol=1e-6)
        assert frame.repaired_joints == 0


def test_skeleton_by_joint_names_and_missing_joints(rclpy_types) -> None:
    bodies = _bodies(1)
    msg = cv.build_skeleton_array(rclpy_types, 2.0, 'world', bodies, 'coco17',
                                  with_joint_names=True)
    assert msg.skeletons[0].layout == '' and len(msg.skeletons[0].joint_names) == 17
    frames, rejections = cv.skeleton_array_to_frames(msg)
    assert rejections == []
    # COCO-17 has no pelvis, spine, chest or neck: masked, position 0, never fabricated.
    for name in ('pelvis', 'spine', 'chest', 'neck'):
        assert not frames[0].mask[CANONICAL_INDEX[name]]
        assert not frames[0].positions[CANONICAL_INDEX[name]].any()
    np.testing.assert_allclose(frames[0].positions[CANONICAL_INDEX['wrist_l']],
                               bodies[0].positions[CANONICAL_INDEX['wrist_l']], atol=1e-6)


def test_marker_round_trip(types) -> None:
    bodies = _bodies(2)
    bodies[1].body_id = '7'
    msg = cv.build_marker_array(types, 3.25, 'depth_camera_link', bodies)
    k4abt = get_layout('k4abt')
    ids = sorted(m.id for m in msg.markers)
    expected = sorted(b * 100 + k4abt.joints.index(j) for b in (1, 7)
                      for j, c in k4abt.canonical.items())
    assert ids == expected
    assert all(m.type == 2 and m.header.frame_id == 'depth_camera_link' for m in msg.markers)
    pelvis = next(m for m in msg.markers if m.id == 700)  # PELVIS of body 7, metres
    assert pelvis.pose.position.z == pytest.approx(float(bodies[1].positions[0, 2]), abs=1e-6)
    frames, rejections = cv.marker_array_to_frames(msg)
    assert rejections == []
    assert [f.body_id for f in frames] == ['1', '7']
    for body, frame in zip(bodies, frames):
        assert frame.stamp == pytest.approx(3.25)
        assert frame.mask.all()
        np.testing.assert_allclose(frame.positions, body.positions, atol=1e-6)


@pytest.mark.parametrize('up_axis', sorted(cv.UP_AXIS_ROTATIONS))
def test_up_axis_rotations_are_proper_and_point_up(up_axis: str) -> None:
    rot = cv.up_axis_rotation(up_axis)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    axis = np.zeros(3)
    axis['xyz'.index(up_axis[-1])] = -1.0 if up_axis.startswith('-') else 1.0
    np.testing.assert_allclose(rot @ axis, [0.0, 0.0, 1.0])


def test_optical_frame_is_rotated_to_z_up(rclpy_types) -> None:
    bodies = _bodies(1)
    rot = cv.up_axis_rotation('-y')
    optical = [cv.BodyFrame('1', 0.0, (b.positions @ rot).astype(np.float32), b.mask, 'cam')
               for b in bodies]  # inverse rotation: Z-up -> camera optical frame
    msg = cv.build_marker_array(rclpy_types, 0.5, 'cam', optical)
    frames, _ = cv.marker_array_to_frames(msg, up_axis='-y')
    np.testing.assert_allclose(frames[0].positions, bodies[0].positions, atol=1e-5)
    head, pelvis = CANONICAL_INDEX['head'], CANONICAL_INDEX['pelvis']
    raw, _ = cv.marker_array_to_frames(msg)  # without the rotation, "up" is wrong
    assert not np.allclose(raw[0].positions[head] - raw[0].positions[pelvis],
                           frames[0].positions[head] - frames[0].positions[pelvis], atol=1e-3)
    with pytest.raises(ValueError, match="'up'"):
        cv.up_axis_rotation('up')


def _reasons(rejections: list[cv.Rejection]) -> list[str]:
    return [r.reason for r in rejections]


def test_message_level_rejections(rclpy_types) -> None:
    t = rclpy_types
    frames, rej = cv.skeleton_array_to_frames(_array(t, []))
    assert frames == [] and _reasons(rej) == [cv.EMPTY_MESSAGE]
    ok = [_skeleton(t, str(i), pos=np.ones((NUM_JOINTS, 3))) for i in range(4)]
    frames, rej = cv.skeleton_array_to_frames(_array(t, ok), max_bodies=2)
    assert [f.body_id for f in frames] == ['0', '1']
    assert _reasons(rej) == [cv.TOO_MANY_BODIES] * 2
    dup = [_skeleton(t, 'a', pos=np.ones((NUM_JOINTS, 3))) for _ in range(2)]
    dup.append(_skeleton(t, 'b', pos=np.ones((NUM_JOINTS, 3))))
    dup.append(_skeleton(t, '', pos=np.ones((NUM_JOINTS, 3))))
    frames, rej = cv.skeleton_array_to_frames(_array(t, dup))
    assert [f.body_id for f in frames] == ['b']
    assert sorted(_reasons(rej)) == sorted([cv.DUPLICATE_BODY_ID] * 2 + [cv.MISSING_BODY_ID])


@pytest.mark.parametrize('case, reason', [
    (dict(layout='no_such_layout', n=21), cv.UNKNOWN_LAYOUT),
    (dict(layout='', names=()), cv.UNKNOWN_LAYOUT),
    (dict(layout='', names=('PELVIS', 'NOT_A_JOINT')), cv.UNKNOWN_JOINT_NAMES),
    (dict(layout='', names=('PELVIS', 'PELVIS')), cv.UNKNOWN_JOINT_NAMES),
    (dict(layout='k4abt', names=('PELVIS',) * 32), cv.JOINT_NAMES_MISMATCH),
    (dict(layout='k4abt', n=31), cv.WRONG_JOINT_COUNT),
    (dict(layout='canonical', conf=np.ones(5)), cv.WRONG_CONFIDENCE_COUNT),
    (dict(layout='canonical', pos=np.full((21, 3), np.nan)), cv.NAN_COORDINATES),
    (dict(layout='canonical', pos=np.ones((21, 3)), conf=np.zeros(21)), cv.TOO_FEW_JOINTS),
])
def test_body_rejections(rclpy_types, case: dict, reason: str) -> None:
    skel = _skeleton(rclpy_types, 'x', **case)
    good = _skeleton(rclpy_types, 'y', pos=np.ones((NUM_JOINTS, 3)))
    frames, rej = cv.skeleton_array_to_frames(_array(rclpy_types, [skel, good]))
    assert _reasons(rej) == [reason], rej
    assert "'x'" in rej[0].detail
    assert [f.body_id for f in frames] == ['y']  # one bad body never costs the others


def test_nan_joints_are_masked_and_counted(rclpy_types) -> None:
    pos = np.random.default_rng(1).normal(size=(NUM_JOINTS, 3))
    pos[4] = (np.nan, 0.0, 0.0)
    pos[8, 2] = np.inf
    frames, rej = cv.skeleton_array_to_frames(
        _array(rclpy_types, [_skeleton(rclpy_types, pos=pos)]))
    assert rej == []
    frame = frames[0]
    assert frame.repaired_joints == 2
    assert not frame.mask[4] and not frame.mask[8] and frame.mask.sum() == NUM_JOINTS - 2
    assert np.isfinite(frame.positions).all() and not frame.positions[[4, 8]].any()


def test_low_confidence_joints_are_masked(rclpy_types) -> None:
    conf = np.ones(NUM_JOINTS)
    conf[[7, 11]] = 0.2
    skel = _skeleton(rclpy_types, pos=np.ones((NUM_JOINTS, 3)), conf=conf)
    frames, _ = cv.skeleton_array_to_frames(_array(rclpy_types, [skel]), min_confidence=0.5)
    assert not frames[0].mask[[7, 11]].any() and frames[0].mask.sum() == NUM_JOINTS - 2
    assert frames[0].repaired_joints == 0


def _marker(t, marker_id: int, xyz=(0.0, 0.0, 1.0), action: int = 0):
    pose = t.new('geometry_msgs/msg/Pose',
                 position=t.new('geometry_msgs/msg/Point', x=xyz[0], y=xyz[1], z=xyz[2]))
    header = t.new('std_msgs/msg/Header', frame_id='cam',
                   stamp=t.new('builtin_interfaces/msg/Time', sec=4, nanosec=0))
    return t.new('visualization_msgs/msg/Marker', header=header, id=marker_id, type=2,
                 action=action, pose=pose)


def _marker_array(t, markers):
    return t.new('visualization_msgs/msg/MarkerArray', markers=markers)


def test_marker_rejections(rclpy_types) -> None:
    t = rclpy_types
    frames, rej = cv.marker_array_to_frames(_marker_array(t, []))
    assert frames == [] and _reasons(rej) == [cv.EMPTY_MESSAGE]
    frames, rej = cv.marker_array_to_frames(_marker_array(t, [_marker(t, 0, action=3)]))
    assert frames == [] and _reasons(rej) == [cv.EMPTY_MESSAGE]  # DELETEALL only: no body
    body1 = [_marker(t, 100 + j) for j in range(32)]
    cases = {
        cv.BAD_MARKER_ID: [_marker(t, 200 + j) for j in range(31)] + [_marker(t, 250)],
        cv.DUPLICATE_JOINT: [_marker(t, 200 + j) for j in range(32)] + [_marker(t, 205)],
        cv.TOO_FEW_JOINTS: [_marker(t, 200 + j) for j in range(3)],
        cv.NAN_COORDINATES: [_marker(t, 200 + j, (math.nan, 0.0, 0.0)) for j in range(32)],
    }
    for reason, body2 in cases.items():
        frames, rej = cv.marker_array_to_frames(_marker_array(t, body1 + body2))
        assert _reasons(rej) == [reason], (reason, rej)
        assert [f.body_id for f in frames] == ['1']
    frames, rej = cv.marker_array_to_frames(_marker_array(t, [_marker(t, -5)] + body1))
    assert _reasons(rej) == [cv.BAD_MARKER_ID] and len(frames) == 1
    many = body1 + [_marker(t, 200 + j) for j in range(32)]
    frames, rej = cv.marker_array_to_frames(_marker_array(t, many), max_bodies=1)
    assert _reasons(rej) == [cv.TOO_MANY_BODIES] and [f.body_id for f in frames] == ['1']


def test_missing_markers_are_masked(rclpy_types) -> None:
    t = rclpy_types
    k4abt = get_layout('k4abt')
    markers = [_marker(t, 300 + j) for j, name in enumerate(k4abt.joints) if name != 'ELBOW_LEFT']
    frames, rej = cv.marker_array_to_frames(_marker_array(t, markers))
    assert rej == [] and frames[0].body_id == '3'
    assert not frames[0].mask[CANONICAL_INDEX['elbow_l']]
    assert frames[0].mask.sum() == NUM_JOINTS - 1 and frames[0].repaired_joints == 0


def test_builders_check_their_input(rclpy_types) -> None:
    with pytest.raises(ValueError, match="'left'"):
        cv.build_marker_array(rclpy_types, 0.0, 'cam', [cv.BodyFrame(
            'left', 0.0, np.zeros((NUM_JOINTS, 3), np.float32), np.ones(NUM_JOINTS, bool), 'cam')])
    with pytest.raises(ValueError, match='unknown joint layout'):
        cv.build_skeleton_array(rclpy_types, 0.0, 'cam', _bodies(1), 'nope')
    with pytest.raises(ValueError, match='finite'):
        cv.split_stamp(math.nan)
    assert cv.split_stamp(-0.25) == (-1, 750_000_000)
    with pytest.raises(ValueError, match='pkg/msg/Name'):
        cv.import_message_class('nonsense')


def test_a_mixed_message_converts_each_body_as_alone_and_in_order(types) -> None:
    # Bodies of one layout are converted together: grouping must not reorder or mix them.
    rng = np.random.default_rng(3)
    k4 = len(get_layout('k4abt').joints)
    names = get_layout('coco17').joints
    conf = rng.uniform(0.0, 1.0, k4)
    nan = rng.normal(0.0, 0.5, (NUM_JOINTS, 3))
    nan[:18] = np.nan  # too few joints left: rejected between good bodies
    skeletons = [
        _skeleton(types, 'a', pos=rng.normal(0.0, 0.5, (NUM_JOINTS, 3))),
        _skeleton(types, 'b', 'k4abt', pos=rng.normal(0.0, 0.5, (k4, 3)), conf=conf),
        _skeleton(types, 'c', pos=nan),
        _skeleton(types, 'd', '', names=names, pos=rng.normal(0.0, 0.5, (len(names), 3))),
        _skeleton(types, 'e', 'k4abt', pos=rng.normal(0.0, 0.5, (k4, 3))),
        _skeleton(types, 'f', pos=rng.normal(0.0, 0.5, (NUM_JOINTS, 3)),
                  conf=np.linspace(0.0, 1.0, NUM_JOINTS)),
    ]
    frames, rejected = cv.skeleton_array_to_frames(_array(types, skeletons), 0.3, '-y')
    assert [f.body_id for f in frames] == ['a', 'b', 'd', 'e', 'f']
    assert [r.reason for r in rejected] == [cv.NAN_COORDINATES]
    for frame, skel in zip(frames, [s for s in skeletons if s.body_id != 'c']):
        (alone,), _ = cv.skeleton_array_to_frames(_array(types, [skel]), 0.3, '-y')
        assert alone.body_id == frame.body_id and alone.stamp == frame.stamp == 1.5
        assert np.array_equal(alone.positions, frame.positions)
        assert np.array_equal(alone.mask, frame.mask)
    assert not frames[4].mask.all() and frames[4].mask.any()  # f's low confidences masked
