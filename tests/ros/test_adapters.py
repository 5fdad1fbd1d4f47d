"""ZED and yolo_ros messages -> canonical frames, and back: by joint name, with every rejection.

Messages are built and (de)serialised with rosbags from the stand-in definitions in
tests/ros/interfaces (no build, no packages needed); the same readers get rclpy messages in the
node (tests/ros/test_trackers.py).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from emotion_node.ros import convert
from emotion_node.ros.adapters.yolo import build_yolo_detections, yolo_detections_to_frames
from emotion_node.ros.adapters.zed import BODY_FORMATS, build_zed_objects, zed_objects_to_frames
from emotion_node.ros.bag_io import rosbags_factory
from emotion_node.ros.convert import BodyFrame
from emotion_node.skeleton.layouts import CANONICAL_INDEX, NUM_JOINTS, layout_presence

ZED_LAYOUTS = {'BODY_18': 'zed_body18', 'BODY_34': 'zed_body34', 'BODY_38': 'zed_body38'}
ZED_TYPE, YOLO_TYPE = 'zed_msgs/msg/ObjectsStamped', 'yolo_msgs/msg/DetectionArray'
STAMP = (1_700_000_000, 250_000_000)


def bodies(n: int = 3, seed: int = 0) -> list[BodyFrame]:
    """People with distinct joint positions, body ids '1'..'n'; person 1 misses its left knee."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        positions = rng.normal(0.0, 0.4, (NUM_JOINTS, 3)).astype(np.float32)
        mask = np.ones(NUM_JOINTS, bool)
        if k == 0:
            mask[CANONICAL_INDEX['knee_l']] = False
            positions[CANONICAL_INDEX['knee_l']] = 0.0
        out.append(BodyFrame(str(k + 1), 1_700_000_000.25, positions, mask, 'base_link'))
    return out


def roundtrip(typestore, msg, msgtype: str):
    """What a subscriber gets: the message through CDR."""
    return typestore.deserialize_cdr(typestore.serialize_cdr(msg, msgtype), msgtype)


def expected(body: BodyFrame, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """The canonical frame a tracker of `layout` sees: the joints it lacks are masked."""
    mask = body.mask & layout_presence(layout)
    return np.where(mask[:, None], body.positions, 0.0), mask


@pytest.fixture
def types(interface_typestore):
    return rosbags_factory(interface_typestore)


@pytest.mark.parametrize('body_format', list(BODY_FORMATS))
def test_zed_bodies_map_by_joint_name(interface_typestore, types, body_format):
    people = bodies()
    msg = roundtrip(interface_typestore, build_zed_objects(types, STAMP, 'zed_left_camera_frame',
                                                           people, body_format), ZED_TYPE)
    assert len(msg.objects[0].skeleton_3d.keypoints) == 70
    assert msg.objects[0].body_format == BODY_FORMATS[body_format]
    frames, rejections = zed_objects_to_frames(msg)
    assert rejections == []
    assert [f.body_id for f in frames] == ['1', '2', '3']
    for person, frame in zip(people, frames):
        positions, mask = expected(person, ZED_LAYOUTS[body_format])
        np.testing.assert_array_equal(frame.mask, mask)
        np.testing.assert_array_equal(frame.positions, positions)  # exact, head from the ears too
        assert frame.stamp == pytest.approx(1_700_000_000.25) and frame.repaired_joints == 0
        assert frame.frame_id == 'zed_left_camera_frame'
    coverage = {'BODY_18': 14, 'BODY_34': 21, 'BODY_38': 21}[body_format]
    assert frames[1].mask.sum() == coverage  # no pelvis, spine, chest, clavicles, toes in 18


def test_yolo_keypoints_map_by_id(interface_typestore, types):
    people = bodies()
    msg = roundtrip(interface_typestore, build_yolo_detections(types, STAMP, 'base_link', people),
                    YOLO_TYPE)
    # Only the keypoints the detector saw travel: person 1 lacks its left knee (id 14).
    assert [k.id for k in msg.detections[0].keypoints3d.data] == [
        i for i in range(1, 18) if i != 14 and i not in (1, 2, 3)]  # no nose, eyes: no target
    frames, rejections = yolo_detections_to_frames(msg)
    assert rejections == []
    for person, frame in zip(people, frames):
        positions, mask = expected(person, 'coco17')
        np.testing.assert_array_equal(frame.mask, mask)
        np.testing.assert_allclose(frame.positions, positions, atol=1e-6)  # float64 points
    assert frames[1].mask.sum() == 13  # shoulders to ankles and the head; no torso joints


def test_zed_unseen_joints_are_masked_not_repaired(interface_typestore, types):
    msg = roundtrip(interface_typestore, build_zed_objects(types, STAMP, 'f', bodies(1)),
                    ZED_TYPE)
    keypoints = msg.objects[0].skeleton_3d.keypoints
    keypoints[14].kp = np.full(3, np.nan, np.float32)  # LEFT_ELBOW in BODY_38
    keypoints[15].kp = np.array([0.1, math.inf, 0.2], np.float32)  # RIGHT_ELBOW: damage
    (frame,), rejections = zed_objects_to_frames(msg)
    assert rejections == []
    assert not frame.mask[CANONICAL_INDEX['elbow_l']]
    assert not frame.mask[CANONICAL_INDEX['elbow_r']]
    assert frame.repaired_joints == 1  # only the infinity counts as repaired
    for kp in keypoints[:38]:
        kp.kp = np.full(3, np.nan, np.float32)
    frames, rejections = zed_objects_to_frames(msg)
    assert frames == [] and [r.reason for r in rejections] == [convert.TOO_FEW_JOINTS]


def test_zed_body_confidence_is_every_joints_confidence(interface_typestore, types):
    msg = roundtrip(interface_typestore, build_zed_objects(types, STAMP, 'f', bodies(2)),
                    ZED_TYPE)
    msg.objects[0].confidence = 40.0
    frames, rejections = zed_objects_to_frames(msg, min_confidence=0.5)
    assert [f.body_id for f in frames] == ['2']
    assert [r.reason for r in rejections] == [convert.TOO_FEW_JOINTS]
    assert len(zed_objects_to_frames(msg, min_confidence=0.3)[0]) == 2


def check_faults(frames, rejections, want: dict[str, str], kept: str) -> None:
    """Each broken body rejected for its reason, named in the detail; the whole one kept."""
    assert [f.body_id for f in frames] == [kept]
    assert sorted(r.reason for r in rejections) == sorted(want.values())
    for body_id, reason in want.items():
        named = repr(body_id) if body_id else 'empty body_id'
        assert any(r.reason == reason and named in r.detail for r in rejections), reason
    assert all(r.reason in convert.REJECTION_REASONS for r in rejections)


def test_zed_rejections_name_each_fault_and_keep_the_rest(interface_typestore, types,
                                                          tracker_faults):
    msg = roundtrip(interface_typestore, build_zed_objects(types, STAMP, 'f', bodies(8)),
                    ZED_TYPE)
    want = tracker_faults.zed(msg)
    msg.objects[6].skeleton_3d.keypoints = msg.objects[6].skeleton_3d.keypoints[:20]  # old msg
    want['7'] = convert.WRONG_JOINT_COUNT
    check_faults(*zed_objects_to_frames(msg), want, kept='8')


def test_zed_duplicate_ids_excess_bodies_and_empty_messages(interface_typestore, types):
    msg = roundtrip(interface_typestore, build_zed_objects(types, STAMP, 'f', bodies(4)),
                    ZED_TYPE)
    msg.objects[1].label_id = 1
    frames, rejections = zed_objects_to_frames(msg, max_bodies=1)
    assert [f.body_id for f in frames] == ['3'] and [r.reason for r in rejections] == [
        convert.DUPLICATE_BODY_ID, convert.DUPLICATE_BODY_ID, convert.TOO_MANY_BODIES]
    msg.objects = []
    assert zed_objects_to_frames(msg)[1][0].reason == convert.EMPTY_MESSAGE


def test_yolo_rejections_name_each_fault_and_keep_the_rest(interface_typestore, types,
                                                           tracker_faults):
    msg = roundtrip(interface_typestore, build_yolo_detections(types, STAMP, 'f', bodies(7)),
                    YOLO_TYPE)
    want = tracker_faults.yolo(msg)
    check_faults(*yolo_detections_to_frames(msg), want, kept='7')
    msg.detections = []
    assert yolo_detections_to_frames(msg)[1][0].reason == convert.EMPTY_MESSAGE


def test_yolo_keypoint_scores_meet_min_confidence(interface_typestore, types):
    msg = roundtrip(interface_typestore, build_yolo_detections(types, STAMP, 'base_link',
                                                               bodies(1)), YOLO_TYPE)
    for kp in msg.detections[0].keypoints3d.data:
        kp.score = 0.3 if kp.id in (10, 11) else 0.9  # the wrists
    (frame,), _ = yolo_detections_to_frames(msg, min_confidence=0.5)
    assert not frame.mask[[CANONICAL_INDEX['wrist_l'], CANONICAL_INDEX['wrist_r']]].any()
    assert frame.mask[CANONICAL_INDEX['elbow_l']]
    msg.detections[0].keypoints3d.frame_id = ''
    msg.header.frame_id = 'camera'
    assert yolo_detections_to_frames(msg)[0][0].frame_id == 'camera'  # the header's, as fallback


def test_up_axis_rotates_tracker_frames(interface_typestore, types):
    msg = roundtrip(interface_typestore, build_zed_objects(types, STAMP, 'f', bodies(1)),
                    ZED_TYPE)
    (z_up,), _ = zed_objects_to_frames(msg)
    (optical,), _ = zed_objects_to_frames(msg, up_axis='-y')
    rotation = convert.up_axis_rotation('-y')
    np.testing.assert_allclose(optical.positions, z_up.positions @ rotation.T, atol=1e-6)


def test_builders_refuse_ids_and_formats_they_cannot_write(types):
    person = bodies(1)[0]
    with pytest.raises(ValueError, match='integers'):
        build_zed_objects(types, STAMP, 'f', [replace(person, body_id='anna')])
    with pytest.raises(ValueError, match='32767'):
        build_zed_objects(types, STAMP, 'f', [replace(person, body_id='40000')])
    with pytest.raises(ValueError, match='BODY_70'):
        build_zed_objects(types, STAMP, 'f', [person], 'BODY_70')
