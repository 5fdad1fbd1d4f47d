"""Stereolabs ZED body tracking: zed_msgs/ObjectsStamped <-> canonical frames.

The ZED ROS 2 wrapper publishes every tracked body in one ObjectsStamped (`~/body_trk/skeletons`
of the camera node, `/zed/zed_node/body_trk/skeletons` by default): `label_id` is the tracking
id, `body_format` names the keypoint layout (BODY_18, BODY_34 or BODY_38; the first 18, 34 or 38
of the 70 `skeleton_3d.keypoints`), keypoints the SDK does not see are NaN, and `confidence` is
one 0-100 value for the whole body. Frames are the wrapper's REP-103 frames (Z up).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np

from emotion_node.ros.adapters.common import convert_bodies, layout_points
from emotion_node.ros.convert import (
    CONFIDENCE_OUT_OF_RANGE, DEFAULT_MIN_VALID_JOINTS, EMPTY_MESSAGE, NO_SKELETON, NOT_TRACKED,
    UNKNOWN_BODY_FORMAT, WRONG_JOINT_COUNT, BodyFrame, MessageFactory, Rejection, Stamp,
    _canonical_body, _header, stamp_to_sec, up_axis_rotation)
from emotion_node.skeleton.layouts import get_layout

OBJECTS_TYPE = 'zed_msgs/msg/ObjectsStamped'
DEFAULT_TOPIC = '/zed/zed_node/body_trk/skeletons'  # camera `zed`, node `zed_node` (wrapper)
# Object.body_format (the SDK's BODY_FORMAT) -> layout in emotion_node/skeleton/layouts.py.
BODY_FORMATS: dict[str, int] = {'BODY_18': 0, 'BODY_34': 1, 'BODY_38': 2}
LAYOUTS: dict[int, str] = {0: 'zed_body18', 1: 'zed_body34', 2: 'zed_body38'}
TRACKING_STATES = ('OFF', 'OK', 'SEARCHING', 'TERMINATE')  # Object.tracking_state values
TRACKING_OK = 1
KEYPOINT_SLOTS = 70  # Skeleton3D.keypoints
MAX_CONFIDENCE = 100.0
BAG_CONFIDENCE = 99.0  # what builders write: recorded motion capture is as sure as it gets
MAX_LABEL_ID = 32767  # label_id is int16
_SUPPORTED = ', '.join(f'{code} ({name})' for name, code in BODY_FORMATS.items())


def zed_objects_to_frames(msg: Any, min_confidence: float = 0.0, up_axis: str = 'z',
                          max_bodies: Optional[int] = None,
                          min_valid_joints: int = DEFAULT_MIN_VALID_JOINTS,
                          ) -> tuple[list[BodyFrame], list[Rejection]]:
    """Convert a ZED ObjectsStamped into canonical frames; never raises on bad content.

    A body's confidence / 100 is the confidence of each of its seen keypoints (so
    `min_confidence` applies to the whole body); NaN keypoints are unseen joints, masked.
    """
    rotation = up_axis_rotation(up_axis)
    if not msg.objects:
        return [], [Rejection(EMPTY_MESSAGE, 'ObjectsStamped with no objects')]
    stamp = stamp_to_sec(msg.header.stamp)
    # label_id -1: the wrapper runs without tracking, so there is no id to follow a person by.
    ids = [str(obj.label_id) if obj.label_id >= 0 else '' for obj in msg.objects]
    return convert_bodies(ids, max_bodies, lambda i: _object_to_frame(
        msg.objects[i], ids[i], stamp, msg.header.frame_id, min_confidence, rotation,
        min_valid_joints))


def _object_to_frame(obj: Any, body_id: str, stamp: float, frame_id: str, min_confidence: float,
                     rotation: np.ndarray, min_valid_joints: int) -> Union[BodyFrame, Rejection]:
    """Check and convert one tracked body."""
    if obj.tracking_state != TRACKING_OK:  # searching: the SDK's estimate, not an observation
        state = int(obj.tracking_state)
        name = TRACKING_STATES[state] if 0 <= state < len(TRACKING_STATES) else 'unknown'
        return Rejection(NOT_TRACKED, f'body {body_id!r}: tracking_state {state} ({name})')
    if not obj.skeleton_available:
        return Rejection(NO_SKELETON, f'body {body_id!r}: skeleton_available is false')
    layout_name = LAYOUTS.get(int(obj.body_format))
    if layout_name is None:
        return Rejection(UNKNOWN_BODY_FORMAT, f'body {body_id!r}: body_format '
                                              f'{obj.body_format}; supported: {_SUPPORTED}')
    layout = get_layout(layout_name)
    n = len(layout.joints)
    keypoints = obj.skeleton_3d.keypoints
    if len(keypoints) < n:
        return Rejection(WRONG_JOINT_COUNT, f'body {body_id!r}: {len(keypoints)} keypoints, '
                                            f'{layout_name} needs {n}')
    confidence = float(obj.confidence)
    if not 0.0 <= confidence <= MAX_CONFIDENCE:  # NaN fails too
        return Rejection(CONFIDENCE_OUT_OF_RANGE, f'body {body_id!r}: confidence {confidence} '
                                                  f'outside [0, {MAX_CONFIDENCE:g}]')
    positions = np.array([kp.kp for kp in keypoints[:n]], dtype=np.float64).reshape(n, 3)
    # NaN is how the SDK says "not seen": masked, not damage (infinities still count as such).
    unseen = np.asarray(np.isnan(positions).any(axis=-1))  # (J,)
    return _canonical_body(body_id, stamp, frame_id, layout,
                           np.where(unseen[:, None], 0.0, positions),
                           np.where(unseen, 0.0, confidence / MAX_CONFIDENCE), min_confidence,
                           rotation, min_valid_joints)


def build_zed_objects(types: MessageFactory, stamp: Stamp, frame_id: str,
                      bodies: Sequence[BodyFrame], body_format: str = 'BODY_38') -> Any:
    """Build an ObjectsStamped as the wrapper publishes it: tracked bodies of one format."""
    if body_format not in BODY_FORMATS:
        raise ValueError(f'unknown ZED body format {body_format!r}; expected one of '
                         f'{list(BODY_FORMATS)}')
    code = BODY_FORMATS[body_format]
    layout = get_layout(LAYOUTS[code])
    unused = [types.new('zed_msgs/msg/Keypoint3D', kp=np.zeros(3, np.float32))
              for _ in range(KEYPOINT_SLOTS - len(layout.joints))]  # left zero by the wrapper
    objects = []
    for body in bodies:
        label_id = _label_id(body.body_id)
        positions, _ = layout_points(body, layout)  # (J, 3), NaN where unseen
        keypoints = [types.new('zed_msgs/msg/Keypoint3D', kp=p) for p in positions] + unused
        objects.append(types.new(
            'zed_msgs/msg/Object', label_id=label_id, confidence=BAG_CONFIDENCE,
            tracking_available=True, tracking_state=TRACKING_OK, skeleton_available=True,
            body_format=code,
            skeleton_3d=types.new('zed_msgs/msg/Skeleton3D', keypoints=keypoints)))
    return types.new(OBJECTS_TYPE, header=_header(types, stamp, frame_id), objects=objects)


def _label_id(body_id: str) -> int:
    """A body id as the ZED's int16 tracking id."""
    try:
        label_id = int(body_id)
    except ValueError:
        raise ValueError(f'ZED body ids must be integers, got {body_id!r}') from None
    if not 0 <= label_id <= MAX_LABEL_ID:
        raise ValueError(f'ZED body ids must be in [0, {MAX_LABEL_ID}], got {label_id}')
    return label_id

