"""The camera node's parameters: one dataclass with defaults, descriptions and ranges.

Field names map to ROS names by their group prefix (`video_path` is `video.path`);
`config/camera_node.yaml` lists the same keys (a test keeps them in step).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, Optional, Tuple

from emotion_node.camera.pipeline import PLACEMENTS, CameraConfig
from emotion_node.camera.pose_model import PoseConfig

GROUPS = ('image', 'video', 'output', 'pose', 'camera', 'tracking', 'diagnostics')


def _p(default: Any, description: str, *, low: Optional[float] = None,
       high: Optional[float] = None, choices: Tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={'description': description, 'low': low,
                                            'high': high, 'choices': choices})


@dataclass(frozen=True)
class CameraParams:
    """Every parameter of the camera node, with its default."""

    image_topic: str = _p('/image_raw', 'sensor_msgs/Image input (unused when video.path is set)')
    image_camera_info_topic: str = _p('', 'sensor_msgs/CameraInfo of those images (its camera '
                                          'matrix places people; until one comes, and for '
                                          'images of another size, camera.hfov_deg does); '
                                          'empty: camera_info beside the image topic')
    video_path: str = _p('', 'a video file to read instead of the image topic; stamps are the '
                             'node clock at the first frame plus each frame\'s time in the file')
    video_start_s: float = _p(0.0, 'video: first second played', low=0.0)
    video_end_s: float = _p(0.0, 'video: second where playback ends; 0: the end of the file',
                            low=0.0)
    video_loop: bool = _p(False, 'video: start again at the end (stamps keep growing); '
                                 'otherwise the node exits when the video ends')
    video_wait_subscribers: int = _p(0, 'video: hold the first frame until the output topic has '
                                        'this many subscribers (so none misses the start)',
                                     low=0, high=100)
    video_frame_id: str = _p('camera_optical_frame', 'video: frame_id of the skeletons (x '
                                                     'right, y down, z forward)')
    output_topic: str = _p('/skeletons', 'emotion_node/SkeletonArray output, layout '
                                         '"mediapipe33", one message per image (empty arrays '
                                         'for images without people)')
    pose_num_poses: int = _p(4, 'most people found in one image', low=1, high=16)
    pose_min_detection_confidence: float = _p(0.3, 'person detector score to start a person',
                                              low=0.0, high=1.0)
    pose_min_presence_confidence: float = _p(0.5, 'landmark model presence to keep a person',
                                             low=0.0, high=1.0)
    pose_min_tracking_confidence: float = _p(0.5, 'below it the detector runs again',
                                             low=0.0, high=1.0)
    camera_hfov_deg: float = _p(60.0, 'horizontal field of view, for placing people in the '
                                      'camera frame where no camera_info gives the camera '
                                      'matrix (a video file)', low=1.0, high=179.0)
    camera_placement: str = _p('camera', '"camera": hips placed in the camera frame from the '
                                         '2D and 3D landmarks; "root_locked": hip centre at the '
                                         'origin', choices=PLACEMENTS)
    tracking_min_iou: float = _p(0.2, 'box overlap that keeps a person\'s id', low=0.01,
                                 high=1.0)
    tracking_max_missed: int = _p(5, 'frames a person may go unseen and keep their id', low=0,
                                  high=1000)
    tracking_min_height: float = _p(0.25, 'people shorter than this share of the image height '
                                          'are dropped', low=0.0, high=0.99)
    diagnostics_period_s: float = _p(1.0, '/diagnostics period (s)', low=0.1, high=60.0)

    def camera_info_topic(self) -> str:
        """The CameraInfo topic: the parameter, else `camera_info` beside the image topic (the
        image_transport convention: /camera/color/image_raw -> /camera/color/camera_info)."""
        if self.image_camera_info_topic:
            return self.image_camera_info_topic
        namespace = self.image_topic.rsplit('/', 1)[0] if '/' in self.image_topic else ''
        return f'{namespace}/camera_info' if self.image_topic.startswith('/') or namespace \
            else 'camera_info'

    def camera_config(self) -> CameraConfig:
        """The pipeline's configuration."""
        return CameraConfig(
            pose=PoseConfig(num_poses=self.pose_num_poses,
                            min_detection_confidence=self.pose_min_detection_confidence,
                            min_presence_confidence=self.pose_min_presence_confidence,
                            min_tracking_confidence=self.pose_min_tracking_confidence),
            hfov_deg=self.camera_hfov_deg, placement=self.camera_placement,
            min_iou=self.tracking_min_iou, max_missed=self.tracking_max_missed,
            min_height=self.tracking_min_height)


def ros_name(field_name: str) -> str:
    """video_start_s -> video.start_s."""
    group, _, rest = field_name.partition('_')
    if group not in GROUPS:
        raise ValueError(f'{field_name}: no parameter group {group!r}')
    return f'{group}.{rest}'


def describe() -> Dict[str, Dict[str, Any]]:
    """ROS name -> default and metadata, in field order."""
    return {ros_name(f.name): {'default': f.default, **f.metadata} for f in fields(CameraParams)}


def read_all(get_value: Callable[[str], Any]) -> CameraParams:
    """Build CameraParams from `get_value(ros_name)`; ValueError names a bad parameter."""
    values: Dict[str, Any] = {}
    for f in fields(CameraParams):
        name, value = ros_name(f.name), get_value(ros_name(f.name))
        if isinstance(f.default, float) and type(value) is int:
            value = float(value)
        if type(value) is not type(f.default):
            raise ValueError(f'parameter {name} must be {type(f.default).__name__}, '
                             f'got {value!r}')
        low, high, choices = f.metadata['low'], f.metadata['high'], f.metadata['choices']
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f'parameter {name} must be in [{low}, {high}], got {value!r}')
        if choices and value not in choices:
            raise ValueError(f'parameter {name} must be one of {choices}, got {value!r}')
        values[f.name] = value
    params = CameraParams(**values)
    if params.video_end_s and params.video_end_s <= params.video_start_s:
        raise ValueError(f'parameter video.end_s ({params.video_end_s}) must be 0 or after '
                         f'video.start_s ({params.video_start_s})')
    return params
