"""The node's input kinds (the values of `input.type`): each one's message type, default topic,
reader (message -> canonical frames) and builder (frames -> message, for bags and tests).

Most kinds are one message type on one topic, read message by message. The ROS4HRI kind (`hri`)
is three streams (the tracked ids, /tf, /tf_static) read by one stateful reader; `make_reader`
gives every kind the same face: its streams, and `read(stream index, message, params)`.

Messages from other packages (zed_msgs, yolo_msgs, hri_msgs, tf2_msgs) are looked up by name when
a parameter needs them, so the node runs without them until it does; then `import_message` fails
with one line naming the package.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Protocol, Sequence

from emotion_node.ros.adapters import hri, yolo, zed
from emotion_node.ros.convert import (
    BodyFrame, InputBatch, MessageFactory, Rejection, Stamp, build_marker_array,
    build_skeleton_array, import_message_class, marker_array_to_frames, skeleton_array_to_frames)

# (message, min_confidence, up_axis, max_bodies) -> (frames, rejections)
Reader = Callable[[Any, float, str, Optional[int]], tuple[list[BodyFrame], list[Rejection]]]
# (factory, stamp, frame_id, bodies, body_format or None) -> message
Builder = Callable[[MessageFactory, Stamp, str, Sequence[BodyFrame], Optional[str]], Any]

# Where users get the message packages this package does not depend on.
PACKAGE_SOURCES: dict[str, str] = {
    'zed_msgs': 'Stereolabs zed-ros2-interfaces: apt install ros-$ROS_DISTRO-zed-msgs',
    'yolo_msgs': 'mgonzs13/yolo_ros: build it in your workspace',
    'hri_msgs': 'ROS4HRI: apt install ros-$ROS_DISTRO-hri-msgs',
    'tf2_msgs': 'part of every ROS 2 install: apt install ros-$ROS_DISTRO-tf2-msgs',
}


class MissingPackage(ValueError):
    """A message package a parameter needs is not installed (or not sourced)."""


@dataclass(frozen=True)
class InputKind:
    """One value of `input.type`."""

    msgtype: str
    default_topic: str
    # Message by message; None for a kind read by a reader of its own (hri: `HriReader`) and
    # written by one (bag_io's `_write_hri`).
    read: Optional[Reader]
    build: Optional[Builder]
    description: str
    body_formats: tuple[str, ...] = ()  # layouts a bag of this kind may be written in
    # Besides the main topic: (topic, message type, latched) read by the same reader.
    extra_streams: tuple[tuple[str, str, bool], ...] = ()

    @property
    def msgtypes(self) -> tuple[str, ...]:
        """Every message type the kind reads."""
        return (self.msgtype, *(t for _, t, _ in self.extra_streams))


def _read_skeletons(msg: Any, min_confidence: float, up_axis: str,
                    max_bodies: Optional[int]) -> tuple[list[BodyFrame], list[Rejection]]:
    return skeleton_array_to_frames(msg, min_confidence, up_axis, max_bodies)


def _read_markers(msg: Any, min_confidence: float, up_axis: str,
                  max_bodies: Optional[int]) -> tuple[list[BodyFrame], list[Rejection]]:
    return marker_array_to_frames(msg, up_axis, max_bodies)  # markers carry no confidence


def _read_zed(msg: Any, min_confidence: float, up_axis: str,
              max_bodies: Optional[int]) -> tuple[list[BodyFrame], list[Rejection]]:
    return zed.zed_objects_to_frames(msg, min_confidence, up_axis, max_bodies)


def _read_yolo(msg: Any, min_confidence: float, up_axis: str,
               max_bodies: Optional[int]) -> tuple[list[BodyFrame], list[Rejection]]:
    return yolo.yolo_detections_to_frames(msg, min_confidence, up_axis, max_bodies)


def _build_skeletons(types: MessageFactory, stamp: Stamp, frame_id: str,
                     bodies: Sequence[BodyFrame], body_format: Optional[str]) -> Any:
    return build_skeleton_array(types, stamp, frame_id, bodies)


def _build_markers(types: MessageFactory, stamp: Stamp, frame_id: str,
                   bodies: Sequence[BodyFrame], body_format: Optional[str]) -> Any:
    return build_marker_array(types, stamp, frame_id, bodies)


def _build_zed(types: MessageFactory, stamp: Stamp, frame_id: str,
               bodies: Sequence[BodyFrame], body_format: Optional[str]) -> Any:
    return zed.build_zed_objects(types, stamp, frame_id, bodies, body_format or 'BODY_38')


def _build_yolo(types: MessageFactory, stamp: Stamp, frame_id: str,
                bodies: Sequence[BodyFrame], body_format: Optional[str]) -> Any:
    return yolo.build_yolo_detections(types, stamp, frame_id, bodies)


INPUT_KINDS: dict[str, InputKind] = {
    'skeleton': InputKind('emotion_node/msg/SkeletonArray', '/skeletons', _read_skeletons,
                          _build_skeletons, 'emotion_node/SkeletonArray'),
    'markers': InputKind('visualization_msgs/msg/MarkerArray', '/body_tracking_data',
                         _read_markers, _build_markers,
                         'Azure Kinect / Orbbec body_tracking_data MarkerArray'),
    'zed': InputKind(zed.OBJECTS_TYPE, zed.DEFAULT_TOPIC, _read_zed, _build_zed,
                     'Stereolabs ZED body tracking zed_msgs/ObjectsStamped',
                     tuple(zed.BODY_FORMATS)),
    'yolo': InputKind(yolo.DETECTIONS_TYPE, yolo.DEFAULT_TOPIC, _read_yolo, _build_yolo,
                      'yolo_ros 3D pose yolo_msgs/DetectionArray'),
    'hri': InputKind(hri.TRACKED_TYPE, hri.DEFAULT_TOPIC, None, None,
                     'ROS4HRI bodies: hri_msgs/IdsList of tracked ids, joints on /tf',
                     extra_streams=((hri.TF_TOPIC, hri.TF_TYPE, False),
                                    (hri.TF_STATIC_TOPIC, hri.TF_TYPE, True))),
}


@dataclass(frozen=True)
class Stream:
    """One topic an input reads."""

    topic: str
    msgtype: str
    latched: bool = False  # transient local (/tf_static): a late subscriber still gets it


class InputReader(Protocol):
    """An input as the node sees it: the topics to subscribe, and each message read."""

    streams: list[Stream]

    def read(self, index: int, msg: Any, p: Any) -> InputBatch:
        """Read one message of `streams[index]` with the node's parameters `p`."""


class MessageReader:
    """The kinds read message by message: one topic, a reader function."""

    def __init__(self, kind: InputKind, topic: str) -> None:
        if kind.read is None:
            raise ValueError(f'{kind.description}: not read message by message')
        self._read = kind.read
        self.streams = [Stream(topic, kind.msgtype)]

    def read(self, index: int, msg: Any, p: Any) -> InputBatch:
        frames, rejections = self._read(msg, p.input_min_confidence, p.input_up_axis,
                                        p.people_max_persons)
        return InputBatch(frames, rejections)


class HriReader:
    """ROS4HRI bodies: the tracked-ids topic, /tf and /tf_static into one HriBodies."""

    def __init__(self, p: Any) -> None:
        kind = INPUT_KINDS['hri']
        self.bodies = hri.HriBodies(hri.HriSettings(
            fixed_frame=p.input_fixed_frame, tf_backend=p.input_tf_backend,
            tf_max_age_s=p.input_tf_max_age_s, history_s=p.window_length_s,
            max_bodies=p.people_max_persons))
        self.streams = [Stream(p.resolved_input_topic(), kind.msgtype),
                        *(Stream(t, m, latched) for t, m, latched in kind.extra_streams)]

    def read(self, index: int, msg: Any, p: Any) -> InputBatch:
        self.bodies.up_axis = p.input_up_axis  # may change at run time
        if index == 0:
            return self.bodies.on_tracked(msg)
        return self.bodies.on_tf(msg, static=self.streams[index].latched)


def make_reader(p: Any) -> InputReader:
    """The reader of `input.type` with the node's parameters (ValueError for a bad setting)."""
    if p.input_type == 'hri':
        return HriReader(p)
    return MessageReader(INPUT_KINDS[p.input_type], p.resolved_input_topic())


def package_of(msgtype: str) -> str:
    """'zed_msgs/msg/ObjectsStamped' -> 'zed_msgs'."""
    return msgtype.split('/', 1)[0]


def _missing(msgtype: str, needed_by: str, detail: str) -> MissingPackage:
    package = package_of(msgtype)
    source = PACKAGE_SOURCES.get(package, 'install it, or source the workspace that has it')
    return MissingPackage(f'{needed_by} needs {msgtype} from the {package} package, {detail} '
                          f'({source})')


def import_message(msgtype: str, needed_by: str) -> type:
    """The rclpy class of `msgtype`; MissingPackage (one line naming the package) without it."""
    try:
        return import_message_class(msgtype)
    except ValueError:
        installed = importlib.util.find_spec(package_of(msgtype)) is not None
        raise _missing(msgtype, needed_by, 'which has no such message (another version?)'
                       if installed else 'which is not installed') from None


def message_files(msgtype: str, needed_by: str) -> list[Path]:
    """The installed .msg files of `msgtype`'s package (for bag type definitions)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    try:
        share = Path(get_package_share_directory(package_of(msgtype)))
    except PackageNotFoundError:
        raise _missing(msgtype, needed_by, 'which is not installed') from None
    files = sorted((share / 'msg').glob('*.msg'))
    if not any(f.stem == msgtype.rsplit('/', 1)[-1] for f in files):
        raise _missing(msgtype, needed_by, f'which has no such .msg file in {share / "msg"}')
    return files
