"""yolo_ros 3D human pose: yolo_msgs/DetectionArray <-> canonical frames.

yolo_ros (mgonzs13) publishes its 3D detections on `/yolo/detections_3d` (launch namespace
`yolo`): each Detection has the tracker's `id` (empty without its tracking node) and
`keypoints3d`, the COCO-17 keypoints above the detector's threshold (`id` 1-17, a 0-1 `score`,
metres in `keypoints3d.frame_id`, the `target_frame` parameter, base_link by default: Z up).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np

from emotion_node.ros.adapters.common import convert_bodies, layout_points
from emotion_node.ros.convert import (
    BAD_KEYPOINT_ID, CONFIDENCE_OUT_OF_RANGE, DEFAULT_MIN_VALID_JOINTS, DUPLICATE_JOINT,
    EMPTY_MESSAGE, NO_KEYPOINTS, WRONG_JOINT_COUNT, BodyFrame, MessageFactory, Rejection, Stamp,
    _canonical_body, _header, _point, stamp_to_sec, up_axis_rotation)
from emotion_node.skeleton.layouts import get_layout

DETECTIONS_TYPE = 'yolo_msgs/msg/DetectionArray'
DEFAULT_TOPIC = '/yolo/detections_3d'
LAYOUT = 'coco17'  # KeyPoint3D.id - 1 indexes it
BAG_SCORE = 1.0  # what builders write for every keypoint of recorded motion capture


def yolo_detections_to_frames(msg: Any, min_confidence: float = 0.0, up_axis: str = 'z',
                              max_bodies: Optional[int] = None,
                              min_valid_joints: int = DEFAULT_MIN_VALID_JOINTS,
                              ) -> tuple[list[BodyFrame], list[Rejection]]:
    """Convert a yolo_ros DetectionArray into canonical frames; never raises on bad content.

    Keypoints the detector left out are unseen joints (masked); a detection without a track id
    is rejected, as one person could not be told from another.
    """
    rotation = up_axis_rotation(up_axis)
    if not msg.detections:
        return [], [Rejection(EMPTY_MESSAGE, 'DetectionArray with no detections')]
    stamp = stamp_to_sec(msg.header.stamp)
    return convert_bodies([d.id for d in msg.detections], max_bodies,
                          lambda i: _detection_to_frame(msg.detections[i], stamp,
                                                        msg.header.frame_id, min_confidence,
                                                        rotation, min_valid_joints))


def _detection_to_frame(det: Any, stamp: float, header_frame: str, min_confidence: float,
                        rotation: np.ndarray, min_valid_joints: int,
                        ) -> Union[BodyFrame, Rejection]:
    """Check and convert one detection's 3D keypoints."""
    layout = get_layout(LAYOUT)
    n = len(layout.joints)
    points = det.keypoints3d.data
    if not points:
        return Rejection(NO_KEYPOINTS, f'body {det.id!r}: no 3D keypoints (yolo_ros fills them '
                                       f'in detect_3d_node\'s detections_3d)')
    if len(points) > n:
        return Rejection(WRONG_JOINT_COUNT, f'body {det.id!r}: {len(points)} keypoints, '
                                            f'{LAYOUT} has {n}')
    positions = np.zeros((n, 3))
    confidences = np.zeros(n)  # 0: left out by the detector, masked
    seen = np.zeros(n, dtype=bool)
    for kp in points:
        k = int(kp.id) - 1
        if not 0 <= k < n:
            return Rejection(BAD_KEYPOINT_ID, f'body {det.id!r}: keypoint id {kp.id} outside '
                                              f'1..{n} ({LAYOUT})')
        if seen[k]:
            return Rejection(DUPLICATE_JOINT, f'body {det.id!r}: keypoint id {kp.id} twice')
        score = float(kp.score)
        if not 0.0 <= score <= 1.0:  # NaN fails too
            return Rejection(CONFIDENCE_OUT_OF_RANGE, f'body {det.id!r}: keypoint {kp.id} '
                                                      f'score {score} outside [0, 1]')
        seen[k] = True
        positions[k] = (kp.point.x, kp.point.y, kp.point.z)
        confidences[k] = score
    return _canonical_body(det.id, stamp, det.keypoints3d.frame_id or header_frame, layout,
                           positions, confidences, min_confidence, rotation, min_valid_joints)


def build_yolo_detections(types: MessageFactory, stamp: Stamp, frame_id: str,
                          bodies: Sequence[BodyFrame]) -> Any:
    """Build a DetectionArray as yolo_ros's 3D node publishes it: seen COCO-17 keypoints only."""
    layout = get_layout(LAYOUT)
    detections = []
    for body in bodies:
        positions, seen = layout_points(body, layout)  # (17, 3), (17,)
        data = [types.new('yolo_msgs/msg/KeyPoint3D', id=int(j) + 1,
                          point=_point(types, positions[j]), score=BAG_SCORE)
                for j in np.flatnonzero(seen)]
        detections.append(types.new(
            'yolo_msgs/msg/Detection', id=str(body.body_id),
            keypoints3d=types.new('yolo_msgs/msg/KeyPoint3DArray', data=data,
                                  frame_id=frame_id)))
    return types.new(DETECTIONS_TYPE, header=_header(types, stamp, frame_id),
                     detections=detections)
