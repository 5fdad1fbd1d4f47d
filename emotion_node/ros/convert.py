"""Input messages <-> numpy: SkeletonArray and Azure-Kinect-style MarkerArray to canonical frames.

The pieces every input shares (BodyFrame, Rejection and its reasons, `_canonical_body`,
`_screen_ids`) live here too; trackers with their own messages have adapters in ros/adapters/.

Readers duck-type the messages, so rclpy messages and rosbags-deserialised messages both work.
Builders take a MessageFactory (`rclpy_factory()` here, or `bag_io.rosbags_factory(typestore)`)
so the same code makes messages for publishers, bag files, tests and benchmarks.
"""
from __future__ import annotations

import array
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Protocol, Sequence, Union

import numpy as np

from emotion_node.skeleton.layouts import (
    NUM_JOINTS, Layout, get_layout, layout_from_joint_names, map_from_canonical, map_to_canonical)
from emotion_node.skeleton.preprocess import PreprocessConfig

# Rejection reasons: short stable keys the node counts and reports.
EMPTY_MESSAGE = 'empty_message'
TOO_MANY_BODIES = 'too_many_bodies'
MISSING_BODY_ID = 'missing_body_id'
DUPLICATE_BODY_ID = 'duplicate_body_id'
UNKNOWN_LAYOUT = 'unknown_layout'
UNKNOWN_JOINT_NAMES = 'unknown_joint_names'
JOINT_NAMES_MISMATCH = 'joint_names_mismatch'
WRONG_JOINT_COUNT = 'wrong_joint_count'
WRONG_CONFIDENCE_COUNT = 'wrong_confidence_count'
NAN_COORDINATES = 'nan_coordinates'
TOO_FEW_JOINTS = 'too_few_joints'
BAD_MARKER_ID = 'bad_marker_id'
DUPLICATE_JOINT = 'duplicate_joint'
# Tracker messages (ros/adapters): ZED bodies and yolo_ros detections.
UNKNOWN_BODY_FORMAT = 'unknown_body_format'
CONFIDENCE_OUT_OF_RANGE = 'confidence_out_of_range'
NOT_TRACKED = 'not_tracked'
NO_SKELETON = 'no_skeleton'
NO_KEYPOINTS = 'no_keypoints'
BAD_KEYPOINT_ID = 'bad_keypoint_id'
REJECTION_REASONS: tuple[str, ...] = (
    EMPTY_MESSAGE, TOO_MANY_BODIES, MISSING_BODY_ID, DUPLICATE_BODY_ID, UNKNOWN_LAYOUT,
    UNKNOWN_JOINT_NAMES, JOINT_NAMES_MISMATCH, WRONG_JOINT_COUNT, WRONG_CONFIDENCE_COUNT,
    NAN_COORDINATES, TOO_FEW_JOINTS, BAD_MARKER_ID, DUPLICATE_JOINT, UNKNOWN_BODY_FORMAT,
    CONFIDENCE_OUT_OF_RANGE, NOT_TRACKED, NO_SKELETON, NO_KEYPOINTS, BAD_KEYPOINT_ID)

DEFAULT_MIN_VALID_JOINTS = PreprocessConfig.min_valid_joints
MARKER_LAYOUT = 'k4abt'  # Azure Kinect / Orbbec body_tracking_data joint order
MARKER_ID_STRIDE = 100   # marker id = body_id * 100 + joint_index
MARKER_DELETE_ACTIONS = (2, 3)  # visualization_msgs/Marker DELETE, DELETEALL

# Rotation taking a tracker frame whose "up" is the key into REP-103 (X fwd, Y left, Z up).
# Every entry is a proper rotation (det +1), so left and right stay left and right.
UP_AXIS_ROTATIONS: dict[str, np.ndarray] = {
    'z': np.eye(3),
    '-z': np.array([[1.0, 0, 0], [0, -1, 0], [0, 0, -1]]),
    # Y up (BVH, OpenGL): forward = +z, left = +x.
    'y': np.array([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]]),
    # Camera optical frame (x right, y down, z forward): forward = z, left = -x, up = -y.
    '-y': np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]]),
    'x': np.array([[0.0, 1, 0], [0, 0, 1], [1, 0, 0]]),
    '-x': np.array([[0.0, 1, 0], [0, 0, -1], [-1, 0, 0]]),
}

Stamp = Union[float, int, tuple[int, int]]


@dataclass
class BodyFrame:
    """One body at one instant, in canonical joints, metres, Z up."""

    body_id: str
    stamp: float  # seconds
    positions: np.ndarray  # (21, 3) float32
    mask: np.ndarray  # (21,) bool
    frame_id: str
    repaired_joints: int = 0  # joints masked because of NaN/inf values (the body was kept)


@dataclass(frozen=True)
class Rejection:
    """Why a body or a whole message was dropped; `reason` is one of REJECTION_REASONS."""

    reason: str
    detail: str


@dataclass
class InputBatch:
    """What one input message gave: bodies to buffer, what was rejected, and the ids of bodies
    the tracker says it no longer tracks (lost at once instead of after a timeout)."""

    frames: list[BodyFrame]
    rejections: list[Rejection]
    left: list[str] = field(default_factory=list)


def up_axis_rotation(up_axis: str) -> np.ndarray:
    """Return the (3, 3) rotation into Z-up for a tracker whose up axis is e.g. 'z', '-y'."""
    key = up_axis.strip().lower().lstrip('+')
    if key not in UP_AXIS_ROTATIONS:
        raise ValueError(f'unknown up_axis {up_axis!r}; expected one of '
                         f'{sorted(UP_AXIS_ROTATIONS)} (optionally with a leading +)')
    return UP_AXIS_ROTATIONS[key]


def stamp_to_sec(stamp: Any) -> float:
    """builtin_interfaces/Time -> float seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def split_stamp(stamp: Stamp) -> tuple[int, int]:
    """Float seconds (or an exact (sec, nanosec) pair) -> (sec, nanosec), 0 <= nanosec < 1e9."""
    if isinstance(stamp, tuple):
        sec, nsec = (int(v) for v in stamp)
        total = sec * 1_000_000_000 + nsec
    else:
        if not np.isfinite(stamp):
            raise ValueError(f'stamp must be finite, got {stamp!r}')
        total = int(round(float(stamp) * 1e9))
    return total // 1_000_000_000, total % 1_000_000_000


# --- readers -------------------------------------------------------------------------------------

def _canonical_bodies(body_ids: Sequence[str], stamp: float, frame_id: str, layout: Layout,
                      positions: np.ndarray, confidences: Optional[np.ndarray],
                      min_confidence: float, rotation: np.ndarray,
                      min_valid_joints: int) -> list[Union[BodyFrame, Rejection]]:
    """Bodies of one layout, (B, J, 3) positions -> a BodyFrame each, or a Rejection when too
    little remains; all of them in one vectorised call."""
    bad = ~np.isfinite(positions).all(axis=-1)  # (B, J)
    if confidences is not None:
        bad |= ~np.isfinite(confidences)
        # Confidence 0 marks a missing joint (Skeleton.msg), whatever min_confidence is.
        confidences = np.where(confidences > 0, confidences, -np.inf)
    pos, mask = map_to_canonical(positions, layout, confidences, min_confidence)  # (B, 21, ...)
    pos = (pos @ rotation.T).astype(np.float32)
    n_valid, n_bad = mask.sum(axis=1), bad.sum(axis=1)
    out: list[Union[BodyFrame, Rejection]] = []
    for i, body_id in enumerate(body_ids):
        if n_valid[i] < min_valid_joints:
            reason = NAN_COORDINATES if n_bad[i] else TOO_FEW_JOINTS
            out.append(Rejection(reason, f'body {body_id!r}: {int(n_valid[i])} valid canonical '
                                         f'joints < {min_valid_joints} ({int(n_bad[i])} joints '
                                         f'NaN/inf)'))
        else:
            out.append(BodyFrame(body_id, stamp, pos[i], mask[i], frame_id,
                                 repaired_joints=int(n_bad[i])))
    return out


def _canonical_body(body_id: str, stamp: float, frame_id: str, layout: Layout,
                    positions: np.ndarray, confidences: Optional[np.ndarray],
                    min_confidence: float, rotation: np.ndarray,
                    min_valid_joints: int) -> Union[BodyFrame, Rejection]:
    """One body's layout positions (J, 3) -> a BodyFrame, or a Rejection when too little
    remains (trackers that send one body at a time)."""
    return _canonical_bodies([body_id], stamp, frame_id, layout, positions[None],
                             None if confidences is None else confidences[None],
                             min_confidence, rotation, min_valid_joints)[0]


def _skeleton_layout(skel: Any) -> Union[Layout, Rejection]:
    """Resolve a Skeleton message's layout from its `layout` name or its joint names."""
    names = tuple(skel.joint_names)
    if skel.layout:
        try:
            layout = get_layout(skel.layout)
        except ValueError as err:
            return Rejection(UNKNOWN_LAYOUT, f'body {skel.body_id!r}: {err}')
        if names and names != layout.joints:
            return Rejection(JOINT_NAMES_MISMATCH, f'body {skel.body_id!r}: joint_names do not '
                                                   f'match layout {skel.layout!r} order')
        return layout
    if not names:
        return Rejection(UNKNOWN_LAYOUT, f'body {skel.body_id!r}: neither layout nor joint_names')
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        return Rejection(UNKNOWN_JOINT_NAMES, f'body {skel.body_id!r}: repeated joint names {dup}')
    try:
        return layout_from_joint_names(names)
    except ValueError as err:
        return Rejection(UNKNOWN_JOINT_NAMES, f'body {skel.body_id!r}: {err}')


def _check_skeleton(skel: Any) -> Union[tuple[Layout, bool], Rejection]:
    """A Skeleton message's layout and whether it has confidences, or why it is rejected."""
    layout = _skeleton_layout(skel)
    if isinstance(layout, Rejection):
        return layout
    n = len(layout.joints)
    if len(skel.positions) != n:
        return Rejection(WRONG_JOINT_COUNT, f'body {skel.body_id!r}: {len(skel.positions)} '
                                            f'positions, layout {layout.name!r} has {n} joints')
    count = len(skel.confidences)
    if count not in (0, n):
        return Rejection(WRONG_CONFIDENCE_COUNT, f'body {skel.body_id!r}: {count} '
                                                 f'confidences for {n} positions')
    return layout, count > 0


def _skeletons_to_frames(skeletons: Sequence[Any], stamp: float, frame_id: str,
                         min_confidence: float, rotation: np.ndarray, min_valid_joints: int
                         ) -> list[Union[BodyFrame, Rejection]]:
    """Check and convert Skeleton messages, in their order: the bodies of one layout (and
    with or without confidences) are read into one array and mapped in one call."""
    out: list[Union[BodyFrame, Rejection, None]] = [None] * len(skeletons)
    groups: dict[tuple, tuple[Layout, bool, list[int]]] = {}
    for i, skel in enumerate(skeletons):
        checked = _check_skeleton(skel)
        if isinstance(checked, Rejection):
            out[i] = checked
            continue
        layout, with_conf = checked
        key = (layout.name, layout.joints, with_conf)
        groups.setdefault(key, (layout, with_conf, []))[2].append(i)
    for layout, with_conf, members in groups.values():
        bodies = [skeletons[i] for i in members]
        positions = np.array([(p.x, p.y, p.z) for skel in bodies for p in skel.positions],
                             dtype=np.float64).reshape(len(bodies), len(layout.joints), 3)
        confidences = np.array([np.asarray(skel.confidences, dtype=np.float64)
                                for skel in bodies]) if with_conf else None
        converted = _canonical_bodies([skel.body_id for skel in bodies], stamp, frame_id,
                                      layout, positions, confidences, min_confidence, rotation,
                                      min_valid_joints)
        for i, frame in zip(members, converted):
            out[i] = frame
    return [frame for frame in out if frame is not None]


def _screen_ids(ids: Sequence[str],
                max_bodies: Optional[int]) -> tuple[list[int], list[Rejection]]:
    """Indices of bodies to convert; rejections for missing, duplicate and excess ids."""
    rejections: list[Rejection] = []
    counts: dict[str, int] = {}
    for body_id in ids:
        counts[body_id] = counts.get(body_id, 0) + 1
    keep: list[int] = []
    for i, body_id in enumerate(ids):
        if not body_id:
            rejections.append(Rejection(MISSING_BODY_ID, f'body #{i} has an empty body_id'))
        elif counts[body_id] > 1:  # ambiguous: two people would mix in one buffer, drop all
            rejections.append(Rejection(DUPLICATE_BODY_ID, f'body_id {body_id!r} appears '
                                                           f'{counts[body_id]} times'))
        elif max_bodies is not None and len(keep) >= max_bodies:
            rejections.append(Rejection(TOO_MANY_BODIES, f'body {body_id!r} beyond '
                                                         f'max_bodies={max_bodies}'))
        else:
            keep.append(i)
    return keep, rejections


def skeleton_array_to_frames(msg: Any, min_confidence: float = 0.0, up_axis: str = 'z',
                             max_bodies: Optional[int] = None,
                             min_valid_joints: int = DEFAULT_MIN_VALID_JOINTS,
                             ) -> tuple[list[BodyFrame], list[Rejection]]:
    """Convert an emotion_node/SkeletonArray into canonical frames; never raises on bad content."""
    # A joint counts when finite with confidence > 0 and >= min_confidence (or no confidences);
    # a body with fewer than min_valid_joints canonical joints is rejected. A bad up_axis is a
    # configuration error and raises ValueError.
    rotation = up_axis_rotation(up_axis)
    if not msg.skeletons:
        return [], [Rejection(EMPTY_MESSAGE, 'SkeletonArray with no skeletons')]
    stamp = stamp_to_sec(msg.header.stamp)
    keep, rejections = _screen_ids([s.body_id for s in msg.skeletons], max_bodies)
    frames: list[BodyFrame] = []
    for out in _skeletons_to_frames([msg.skeletons[i] for i in keep], stamp,
                                    msg.header.frame_id, min_confidence, rotation,
                                    min_valid_joints):
        if isinstance(out, Rejection):
            rejections.append(out)
        else:
            frames.append(out)
    return frames, rejections


def _group_markers(markers: Iterable[Any]) -> tuple[dict[int, list[Any]], list[Rejection]]:
    """Group ADD markers by body id (id // 100), in first-seen order."""
    groups: dict[int, list[Any]] = {}
    rejections: list[Rejection] = []
    for marker in markers:
        if marker.action in MARKER_DELETE_ACTIONS:
            continue  # a delete is a legitimate command, not a body
        if marker.id < 0:
            rejections.append(Rejection(BAD_MARKER_ID, f'marker id {marker.id} is negative'))
            continue
        groups.setdefault(marker.id // MARKER_ID_STRIDE, []).append(marker)
    return groups, rejections


def _markers_to_frame(body: int, markers: list[Any], rotation: np.ndarray,
                      min_valid_joints: int) -> Union[BodyFrame, Rejection]:
    """One body's markers (K4ABT joint = id % 100) -> a BodyFrame; absent joints are masked."""
    layout = get_layout(MARKER_LAYOUT)
    n = len(layout.joints)
    positions = np.full((n, 3), np.nan)  # (32, 3); NaN = no marker for that joint
    seen = np.zeros(n, dtype=bool)
    for marker in markers:
        joint = marker.id % MARKER_ID_STRIDE
        if joint >= n:
            return Rejection(BAD_MARKER_ID, f'body {body}: marker id {marker.id} names joint '
                                            f'{joint}, K4ABT has {n}')
        if seen[joint]:
            return Rejection(DUPLICATE_JOINT, f'body {body}: joint {joint} appears twice')
        seen[joint] = True
        p = marker.pose.position
        positions[joint] = (p.x, p.y, p.z)
    stamp = max(stamp_to_sec(m.header.stamp) for m in markers)
    # Absent joints get confidence 0 so they are masked without counting as NaN repairs.
    return _canonical_body(str(body), stamp, markers[0].header.frame_id, layout,
                           np.where(seen[:, None], positions, 0.0), seen.astype(np.float64),
                           0.5, rotation, min_valid_joints)


def marker_array_to_frames(msg: Any, up_axis: str = 'z', max_bodies: Optional[int] = None,
                           min_valid_joints: int = DEFAULT_MIN_VALID_JOINTS,
                           ) -> tuple[list[BodyFrame], list[Rejection]]:
    """Convert a body_tracking_data MarkerArray to canonical frames; never raises on bad input."""
    rotation = up_axis_rotation(up_axis)
    groups, rejections = _group_markers(msg.markers)
    if not groups:
        return [], rejections + [Rejection(EMPTY_MESSAGE, 'MarkerArray with no body markers')]
    ids = list(groups)
    # Marker ids are unique per body by construction; excess bodies are still capped here.
    keep, screened = _screen_ids([str(b) for b in ids], max_bodies)
    rejections += screened
    frames: list[BodyFrame] = []
    for i in keep:
        out = _markers_to_frame(ids[i], groups[ids[i]], rotation, min_valid_joints)
        if isinstance(out, Rejection):
            rejections.append(out)
        else:
            frames.append(out)
    return frames, rejections


# --- message factories ---------------------------------------------------------------------------

class MessageFactory(Protocol):
    """Makes messages by ROS type name ('std_msgs/msg/Header'); unset fields take defaults."""

    def new(self, msgtype: str, **fields: Any) -> Any:
        """Build a message of `msgtype` from keyword fields."""

    def floats(self, values: np.ndarray) -> Any:
        """Wrap a float32 vector for a `float32[]` field."""


class RclpyFactory:
    """MessageFactory for rclpy's generated message classes."""

    def __init__(self) -> None:
        self._classes: dict[str, Callable[..., Any]] = {}

    def new(self, msgtype: str, **fields: Any) -> Any:
        """Build an rclpy message."""
        if msgtype not in self._classes:
            self._classes[msgtype] = import_message_class(msgtype)
        return self._classes[msgtype](**fields)

    def floats(self, values: np.ndarray) -> Any:
        """rclpy float32[] fields take array.array('f') without a per-element check."""
        return array.array('f', np.ascontiguousarray(values, dtype=np.float32).tobytes())


def import_message_class(msgtype: str) -> type:
    """Import an rclpy message class from 'pkg/msg/Name' (or 'pkg/Name')."""
    parts = msgtype.split('/')
    if len(parts) == 2:
        parts = [parts[0], 'msg', parts[1]]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f'bad message type name {msgtype!r}; expected pkg/msg/Name')
    try:
        module = importlib.import_module(f'{parts[0]}.{parts[1]}')
        return getattr(module, parts[2])
    except (ImportError, AttributeError) as err:
        raise ValueError(f'message type {msgtype!r} is not available to rclpy: {err}') from err


def rclpy_factory() -> RclpyFactory:
    """MessageFactory for rclpy publishers."""
    return RclpyFactory()


# --- builders ------------------------------------------------------------------------------------

def _header(types: MessageFactory, stamp: Stamp, frame_id: str) -> Any:
    """std_msgs/Header."""
    sec, nsec = split_stamp(stamp)
    time = types.new('builtin_interfaces/msg/Time', sec=sec, nanosec=nsec)
    return types.new('std_msgs/msg/Header', stamp=time, frame_id=frame_id)


def _point(types: MessageFactory, xyz: np.ndarray) -> Any:
    """geometry_msgs/Point from a (3,) array."""
    return types.new('geometry_msgs/msg/Point', x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def build_skeleton_array(types: MessageFactory, stamp: Stamp, frame_id: str,
                         bodies: Sequence[BodyFrame], layout: str = 'canonical',
                         with_joint_names: bool = False) -> Any:
    """Build a SkeletonArray; each body is written in `layout` order, unmapped joints at conf 0."""
    lay = get_layout(layout)
    skeletons = []
    for body in bodies:
        pos, valid = map_from_canonical(body.positions, body.mask, lay)  # (J, 3), (J,)
        skeletons.append(types.new(
            'emotion_node/msg/Skeleton', body_id=str(body.body_id),
            layout='' if with_joint_names else lay.name,
            joint_names=list(lay.joints) if with_joint_names else [],
            positions=[_point(types, p) for p in pos],
            confidences=types.floats(valid.astype(np.float32))))
    return types.new('emotion_node/msg/SkeletonArray', header=_header(types, stamp, frame_id),
                     skeletons=skeletons)


_BODY_COLORS = ((0.9, 0.2, 0.2), (0.2, 0.7, 0.2), (0.2, 0.4, 0.9), (0.9, 0.7, 0.1),
                (0.7, 0.2, 0.8), (0.1, 0.8, 0.8))  # a stable colour per body id, as trackers do


def build_marker_array(types: MessageFactory, stamp: Stamp, frame_id: str,
                       bodies: Sequence[BodyFrame], lifetime_s: float = 0.25,
                       sphere_m: float = 0.05) -> Any:
    """Build an Azure-Kinect-style MarkerArray (SPHERE per valid K4ABT joint, metres)."""
    lay = get_layout(MARKER_LAYOUT)
    header = _header(types, stamp, frame_id)
    life_sec, life_nsec = split_stamp(lifetime_s)
    markers = []
    for body in bodies:
        try:
            body_num = int(body.body_id)
        except ValueError:
            raise ValueError(f'marker body ids must be integers, got {body.body_id!r}') from None
        if body_num < 0:
            raise ValueError(f'marker body ids must be >= 0, got {body_num}')
        pos, valid = map_from_canonical(body.positions, body.mask, lay)  # (32, 3), (32,)
        r, g, b = _BODY_COLORS[body_num % len(_BODY_COLORS)]
        color = types.new('std_msgs/msg/ColorRGBA', r=r, g=g, b=b, a=1.0)
        for joint in np.flatnonzero(valid):
            pose = types.new('geometry_msgs/msg/Pose', position=_point(types, pos[joint]),
                             orientation=types.new('geometry_msgs/msg/Quaternion', w=1.0))
            markers.append(types.new(
                'visualization_msgs/msg/Marker', header=header, ns='', action=0, type=2,
                id=body_num * MARKER_ID_STRIDE + int(joint), pose=pose, color=color,
                scale=types.new('geometry_msgs/msg/Vector3', x=sphere_m, y=sphere_m, z=sphere_m),
                lifetime=types.new('builtin_interfaces/msg/Duration', sec=life_sec,
                                   nanosec=life_nsec)))
    return types.new('visualization_msgs/msg/MarkerArray', markers=markers)


def frames_from_canonical(positions: np.ndarray, mask: np.ndarray, body_ids: Sequence[str],
                          stamp: float, frame_id: str) -> list[BodyFrame]:
    """Wrap (B, 21, 3) positions and (B, 21) masks as BodyFrames (for the builders)."""
    positions = np.asarray(positions, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    if positions.shape != (len(body_ids), NUM_JOINTS, 3) or mask.shape != positions.shape[:2]:
        raise ValueError(f'expected ({len(body_ids)}, {NUM_JOINTS}, 3) positions and a matching '
                         f'mask for body ids {list(body_ids)}, got {positions.shape}, '
                         f'{mask.shape}')
    return [BodyFrame(str(b), stamp, positions[i], mask[i], frame_id)
            for i, b in enumerate(body_ids)]


def build_layout_skeleton_array(types: MessageFactory, stamp: Stamp, frame_id: str, layout: str,
                                bodies: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> Any:
    """SkeletonArray of bodies already in `layout` order: (body id, positions (J, 3) metres,
    confidences (J,)), as a tracker that speaks a named layout publishes them."""
    joints = len(get_layout(layout).joints)
    skeletons = []
    for body_id, positions, confidences in bodies:
        if positions.shape != (joints, 3) or confidences.shape != (joints,):
            raise ValueError(f'layout {layout!r} has {joints} joints; body {body_id!r} has '
                             f'positions {positions.shape} and confidences {confidences.shape}')
        skeletons.append(types.new(
            'emotion_node/msg/Skeleton', body_id=body_id, layout=layout,
            positions=[_point(types, p) for p in positions],
            confidences=types.floats(confidences)))
    return types.new('emotion_node/msg/SkeletonArray', header=_header(types, stamp, frame_id),
                     skeletons=skeletons)
