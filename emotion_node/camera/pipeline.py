"""One RGB image in, the people in it out: pose model, placement in the camera frame, ids.

Shared by the camera node and its benchmark. Positions are in the camera optical frame (x
right, y down, z forward, metres; the emotion node reads it with `input.up_axis: "-y"`), in
the `mediapipe33` layout, with the model's visibility as each joint's confidence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from emotion_node.camera.placement import Intrinsics, camera_translation, focal_from_fov
from emotion_node.camera.pose_model import Pose, PoseConfig, PoseEstimator
from emotion_node.camera.tracking import PersonTracker, box_of, iou

LAYOUT = 'mediapipe33'
PLACEMENTS = ('camera', 'root_locked')


@dataclass(frozen=True)
class CameraConfig:
    """How images become skeletons."""

    pose: PoseConfig = field(default_factory=PoseConfig)
    hfov_deg: float = 60.0         # assumed horizontal field of view (focal length for placement)
    placement: str = 'camera'      # 'camera': hips placed in the camera frame; 'root_locked'
    min_iou: float = 0.2           # box overlap that continues a person's id
    max_missed: int = 5            # frames a person may go unseen and keep their id
    # people shorter than this share of the image height are dropped: on the test video the
    # detector's only false people were furniture 8-20 % of the frame tall, the walkers 70-85 %
    min_height: float = 0.25
    duplicate_iou: float = 0.5     # a second pose over the same person's box is dropped

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f'placement must be one of {PLACEMENTS}, got {self.placement!r}')
        focal_from_fov(100, self.hfov_deg)  # validates the angle
        if not 0.0 < self.min_iou <= 1.0 or self.max_missed < 0:
            raise ValueError(f'need 0 < min_iou <= 1 and max_missed >= 0, got '
                             f'{self.min_iou}, {self.max_missed}')
        if not 0.0 <= self.min_height < 1.0 or not 0.0 < self.duplicate_iou <= 1.0:
            raise ValueError(f'need 0 <= min_height < 1 and 0 < duplicate_iou <= 1, got '
                             f'{self.min_height}, {self.duplicate_iou}')


@dataclass
class Person:
    """One tracked person in one image."""

    body_id: str
    positions: np.ndarray    # (33, 3) metres, camera optical frame, mediapipe33 order
    confidences: np.ndarray  # (33,) in [0, 1]
    placed: bool             # False: root-locked (hip centre at the origin)


class CameraPipeline:
    """Images -> tracked 3D people."""

    def __init__(self, config: CameraConfig = CameraConfig(),
                 estimator: Optional[PoseEstimator] = None) -> None:
        self.config = config
        self.estimator = estimator or PoseEstimator(config.pose)
        self.tracker = PersonTracker(min_iou=config.min_iou, max_missed=config.max_missed)
        self._offsets: Dict[str, np.ndarray] = {}  # body id -> last camera-frame translation

    def process(self, rgb: np.ndarray, stamp_s: float,
                camera: Optional[Intrinsics] = None) -> List[Person]:
        """The people in one (H, W, 3) uint8 RGB image taken at stamp_s by `camera` (None: a
        pinhole of the configured field of view)."""
        found = self.estimator.estimate(rgb, int(round(stamp_s * 1e6)))
        poses, boxes = self._plausible(found, rgb.shape[0])
        ids = self.tracker.assign(boxes)
        camera = camera or Intrinsics.from_fov(rgb.shape[1], rgb.shape[0], self.config.hfov_deg)
        people = [self._place(body_id, pose, camera) for body_id, pose in zip(ids, poses)]
        seen = set(ids)
        self._offsets = {k: v for k, v in self._offsets.items() if k in seen}
        return people

    def _plausible(self, poses: List[Pose], height: int) -> Tuple[List[Pose], List[np.ndarray]]:
        """Poses tall enough to be someone, the more visible of two over one person kept."""
        kept: List[Pose] = []
        boxes: List[np.ndarray] = []
        for pose in sorted(poses, key=lambda p: -float(p.visibility.mean())):
            box = box_of(pose.image_xy, pose.visibility)
            if box[3] - box[1] < self.config.min_height * height:
                continue
            if any(iou(box, other) > self.config.duplicate_iou for other in boxes):
                continue
            kept.append(pose)
            boxes.append(box)
        return kept, boxes

    def _place(self, body_id: str, pose: Pose, camera: Intrinsics) -> Person:
        """Camera-frame positions; a frame whose fit fails keeps the person's last offset."""
        offset = None
        if self.config.placement == 'camera':
            offset = camera_translation(pose.image_xy, pose.world, pose.visibility, camera)
            offset = offset if offset is not None else self._offsets.get(body_id)
        if offset is not None:
            self._offsets[body_id] = offset
        positions = pose.world + (offset if offset is not None else 0.0)
        return Person(body_id, positions.astype(np.float32), pose.visibility,
                      placed=offset is not None)

    def close(self) -> None:
        """Stop the pose graph."""
        self.estimator.close()
