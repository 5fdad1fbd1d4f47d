"""rosbag2 files of skeleton input (every input kind of ros/inputs.py) via rosbags.

Bags are written with this package's message definitions and RIHS01 type hashes, serialization
cdr, rosbag2 format version 9, so `ros2 bag play` and `emotion-node replay` both play them.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Optional, Sequence

import numpy as np

from emotion_node.package_files import PACKAGE, SOURCE_ROOT, installed_share_dir
from emotion_node.ros import inputs
from emotion_node.ros.adapters import hri
from emotion_node.ros.adapters.hri import BAG_CAMERA_FRAME
from emotion_node.ros.convert import BodyFrame, _header
from emotion_node.skeleton.bvh import read_bvh_canonical

# kind -> (message type, default topic), from the input kinds of ros/inputs.py
INPUT_KINDS: dict[str, tuple[str, str]] = {
    name: (kind.msgtype, kind.default_topic) for name, kind in inputs.INPUT_KINDS.items()}
SKELETON_ARRAY_TYPE, DEFAULT_SKELETON_TOPIC = INPUT_KINDS['skeleton']
MARKER_ARRAY_TYPE, DEFAULT_MARKER_TOPIC = INPUT_KINDS['markers']
STORAGE_FORMATS = ('mcap', 'sqlite3')
DEFAULT_FRAME_ID = 'world'
LANE_SPACING_M = 1.5  # people side by side, this far apart along Y
BAG_VERSION: Literal[9] = 9  # rosbag2 metadata version written by Jazzy and Kilted


@dataclass
class Track:
    """One person's recorded motion: canonical positions at a fixed frame rate."""

    body_id: str
    positions: np.ndarray  # (T, 21, 3) float32 metres, Z up
    mask: np.ndarray  # (T, 21) bool
    fps: float
    start_s: float = 0.0  # when the person comes into view, after the bag's first stamp

    def stamps(self, start_ns: int) -> list[int]:
        """Every frame's stamp (ns) in a bag starting at start_ns."""
        first = start_ns + int(round(self.start_s * 1e9))
        return [first + int(round(i * 1e9 / self.fps)) for i in range(len(self.positions))]


@dataclass
class BagSummary:
    """What write_bag wrote."""

    path: Path
    topic: str
    msgtype: str
    storage: str
    messages: int
    bodies: int
    start_ns: int
    duration_s: float
    others: tuple[str, ...] = ()  # further topics the messages are on (hri: /tf, /tf_static)


def message_dir() -> Path:
    """Folder holding this package's .msg files (installed share first, then the source tree)."""
    candidates = [share / 'msg' for share in (installed_share_dir(),) if share]
    candidates.append(SOURCE_ROOT / 'msg')
    for folder in candidates:
        if (folder / 'SkeletonArray.msg').is_file():
            return folder
    raise FileNotFoundError(f'no {PACKAGE} .msg files found in {[str(c) for c in candidates]}')


def message_typestore(input_kind: Optional[str] = None) -> Any:
    """A rosbags Typestore for ROS 2 Kilted (or the newest known) plus this package's messages,
    and those of the input kind's message package when it is another one (zed_msgs, yolo_msgs:
    read from its installed .msg files; MissingPackage without them)."""
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg
    store = getattr(Stores, 'ROS2_KILTED', Stores.ROS2_JAZZY)
    typestore = get_typestore(store)
    files = [(PACKAGE, f) for f in sorted(message_dir().glob('*.msg'))]
    msgtypes = inputs.INPUT_KINDS[input_kind].msgtypes if input_kind else ()
    for msgtype in dict.fromkeys(msgtypes):
        if msgtype not in typestore.types and inputs.package_of(msgtype) != PACKAGE:
            files += [(inputs.package_of(msgtype), f)
                      for f in inputs.message_files(msgtype, f'a bag of --input {input_kind}')]
    types: dict[str, Any] = {}
    for package, msg_file in files:
        types.update(get_types_from_msg(msg_file.read_text(), f'{package}/msg/{msg_file.stem}'))
    typestore.register(types)
    return typestore


class RosbagsFactory:
    """MessageFactory for a rosbags Typestore (its dataclasses need every field)."""

    _BASE_DEFAULTS = {'string': '', 'bool': False, 'float32': 0.0, 'float64': 0.0}

    def __init__(self, typestore: Any) -> None:
        self.typestore = typestore

    def new(self, msgtype: str, **fields: Any) -> Any:
        """Build a rosbags message, filling unset fields with ROS defaults."""
        _, fielddefs = self.typestore.fielddefs[msgtype]
        for name, desc in fielddefs:
            if name not in fields:
                fields[name] = self._default(desc)
        return self.typestore.types[msgtype](**fields)

    def floats(self, values: np.ndarray) -> Any:
        """rosbags keeps primitive arrays as numpy arrays."""
        return np.ascontiguousarray(values, dtype=np.float32)

    def _default(self, desc: tuple[Any, Any]) -> Any:
        """Default value for one field description."""
        kind, detail = int(desc[0]), desc[1]
        if kind == 2:  # NAME: nested message
            return self.new(detail)
        if kind == 1:  # BASE
            return self._BASE_DEFAULTS.get(detail[0], 0)
        sub, length = detail  # 3 ARRAY (fixed length), 4 SEQUENCE
        if int(sub[0]) == 1 and sub[1][0] not in ('string', 'bounded_string'):
            dtype = np.uint8 if sub[1][0] in ('byte', 'char') else np.dtype(sub[1][0])
            return np.zeros(length if kind == 3 else 0, dtype=dtype)
        return [self._default(sub) for _ in range(length if kind == 3 else 0)]


def rosbags_factory(typestore: Any) -> RosbagsFactory:
    """MessageFactory for rosbags (bag writing); the typestore must know this package's types."""
    return RosbagsFactory(typestore)


def load_tracks(paths: Sequence[str | Path], first_body_id: int = 1,
                spacing_m: float = LANE_SPACING_M,
                duration_s: Optional[float] = None, stagger_s: float = 0.0) -> list[Track]:
    """Read BVH clips as people standing side by side (body ids in order, first one leftmost),
    each next one coming into view `stagger_s` seconds after the one before."""
    if not paths:
        raise ValueError('no BVH clips given')
    if duration_s is not None and duration_s <= 0:
        raise ValueError(f'duration must be positive, got {duration_s}')
    if not (np.isfinite(stagger_s) and stagger_s >= 0):
        raise ValueError(f'stagger must be >= 0 seconds, got {stagger_s}')
    tracks = []
    for k, path in enumerate(paths):
        if not Path(path).is_file():
            raise FileNotFoundError(f'BVH clip not found: {path}')
        positions, mask, fps = read_bvh_canonical(path)  # (T, 21, 3), (T, 21)
        if duration_s is not None:
            n = max(1, int(np.ceil(duration_s * fps - 1e-9)))
            positions, mask = positions[:n], mask[:n]
        lane_y = ((len(paths) - 1) / 2.0 - k) * spacing_m
        positions = _place(positions, mask, lane_y)
        tracks.append(Track(str(first_body_id + k), positions, mask, float(fps), k * stagger_s))
    return tracks


def _place(positions: np.ndarray, mask: np.ndarray, lane_y: float) -> np.ndarray:
    """Shift a clip so its first seen pelvis stands at (0, lane_y) on the ground plane."""
    seen = np.flatnonzero(mask[:, 0])
    start = positions[seen[0], 0] if seen.size else np.zeros(3, dtype=np.float32)
    shift = np.array([-start[0], lane_y - start[1], 0.0], dtype=np.float32)
    return np.where(mask[..., None], positions + shift, 0.0).astype(np.float32)


def track_frames(tracks: Sequence[Track], start_ns: int,
                 frame_id: str = DEFAULT_FRAME_ID) -> Iterator[tuple[int, list[BodyFrame]]]:
    """Yield (stamp_ns, bodies seen at that instant) over the union of the tracks' frame times."""
    events: dict[int, list[tuple[Track, int]]] = {}
    for track in tracks:
        for i, stamp in enumerate(track.stamps(start_ns)):
            events.setdefault(stamp, []).append((track, i))
    for stamp in sorted(events):
        yield stamp, [BodyFrame(t.body_id, stamp * 1e-9, t.positions[i], t.mask[i], frame_id)
                      for t, i in events[stamp]]


def write_bag(path: str | Path, tracks: Sequence[Track], storage: str = 'mcap',
              input_kind: str = 'skeleton', topic: Optional[str] = None,
              frame_id: str = DEFAULT_FRAME_ID, start_ns: Optional[int] = None,
              overwrite: bool = False, body_format: Optional[str] = None) -> BagSummary:
    """Write the tracks to a rosbag2 folder, one message per recorded instant
    (`body_format`: the keypoint layout of kinds that have several, e.g. zed BODY_18)."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    if storage not in STORAGE_FORMATS:
        raise ValueError(f'unknown bag format {storage!r}; expected one of {STORAGE_FORMATS}')
    if input_kind not in INPUT_KINDS:
        raise ValueError(f'unknown input kind {input_kind!r}; expected one of {list(INPUT_KINDS)}')
    kind = inputs.INPUT_KINDS[input_kind]
    if body_format is not None and body_format not in kind.body_formats:
        raise ValueError(f'body format {body_format!r} is not one of input {input_kind}: '
                         f'{list(kind.body_formats) or "it has one layout"}')
    if not tracks:
        raise ValueError('no tracks to write')
    msgtype, topic = kind.msgtype, topic or kind.default_topic
    path = Path(path)
    typestore = message_typestore(input_kind)  # before touching the target: may be missing
    _clear_target(path, overwrite)
    start_ns = int(start_ns if start_ns is not None else time.time_ns() // 10**9 * 10**9)
    types = rosbags_factory(typestore)
    count, last = 0, start_ns
    writer = Writer(path, version=BAG_VERSION, storage_plugin=StoragePlugin[storage.upper()])
    with writer:
        conn = writer.add_connection(topic, msgtype, typestore=typestore,
                                     offered_qos_profiles=[_offered_qos()])
        if input_kind == 'hri':  # three topics: the tracked ids, /tf and /tf_static
            count, last = _write_hri(writer, conn, typestore, types, tracks, start_ns, frame_id)
        else:
            assert kind.build is not None, 'every kind but hri builds message by message'
            for stamp_ns, bodies in track_frames(tracks, start_ns, frame_id):
                msg = kind.build(types, divmod(stamp_ns, 10**9), frame_id, bodies, body_format)
                writer.write(conn, stamp_ns, typestore.serialize_cdr(msg, msgtype))
                count, last = count + 1, stamp_ns
    others = tuple(t for t, _, _ in kind.extra_streams)
    return BagSummary(path, topic, msgtype, storage, count, len(tracks), start_ns,
                      (last - start_ns) * 1e-9, others)


IMAGE_TYPE = 'sensor_msgs/msg/Image'
DEFAULT_IMAGE_TOPIC = '/image_raw'  # what the camera node reads by default
DEFAULT_CAMERA_FRAME = 'camera_optical_frame'


def write_video_bag(path: str | Path, video: str | Path, storage: str = 'mcap',
                    topic: Optional[str] = None, frame_id: Optional[str] = None,
                    start_ns: Optional[int] = None, overwrite: bool = False,
                    start_s: float = 0.0, duration_s: Optional[float] = None) -> BagSummary:
    """A video file as a camera driver publishes it: sensor_msgs/Image (rgb8) at the video's
    frame times, from `start_s` for `duration_s` seconds (None: to the end), for the camera
    node to read like a live camera."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from emotion_node.camera.video import VideoFrames
    if storage not in STORAGE_FORMATS:
        raise ValueError(f'unknown bag format {storage!r}; expected one of {STORAGE_FORMATS}')
    if duration_s is not None and not duration_s > 0:
        raise ValueError(f'duration must be positive, got {duration_s}')
    frames = VideoFrames(Path(video), start_s, start_s + duration_s if duration_s else 0.0)
    topic, frame_id = topic or DEFAULT_IMAGE_TOPIC, frame_id or DEFAULT_CAMERA_FRAME
    path = Path(path)
    try:
        typestore = message_typestore()
        _clear_target(path, overwrite)
        start_ns = int(start_ns if start_ns is not None else time.time_ns() // 10**9 * 10**9)
        types = rosbags_factory(typestore)
        count, last = 0, start_ns
        with Writer(path, version=BAG_VERSION,
                    storage_plugin=StoragePlugin[storage.upper()]) as writer:
            conn = writer.add_connection(topic, IMAGE_TYPE, typestore=typestore,
                                         offered_qos_profiles=[_offered_qos()])
            for t, rgb in frames:
                stamp_ns = start_ns + int(round((t - start_s) * 1e9))
                height, width = rgb.shape[:2]
                msg = types.new(IMAGE_TYPE, header=_header(types, divmod(stamp_ns, 10**9),
                                                           frame_id),
                                height=height, width=width, encoding='rgb8', is_bigendian=0,
                                step=3 * width, data=np.ascontiguousarray(rgb).reshape(-1))
                writer.write(conn, stamp_ns, typestore.serialize_cdr(msg, IMAGE_TYPE))
                count, last = count + 1, stamp_ns
    finally:
        frames.close()
    if not count:
        raise ValueError(f'{video}: no frames from {start_s} s')
    return BagSummary(path, topic, IMAGE_TYPE, storage, count, 0, start_ns,
                      (last - start_ns) * 1e-9)


def _write_hri(writer: Any, tracked_conn: Any, typestore: Any, types: 'RosbagsFactory',
               tracks: Sequence[Track], start_ns: int, world_frame: str) -> tuple[int, int]:
    """The tracks as a ROS4HRI body tracker publishes them: at each instant the tracked ids,
    each body's root on /tf and its model's links in a message of their own (as a tracker and
    robot_state_publisher do); the camera's pose in the world once on /tf_static. Return
    (messages written, last stamp)."""
    tf_conn = writer.add_connection(hri.TF_TOPIC, hri.TF_TYPE, typestore=typestore,
                                    offered_qos_profiles=[_offered_qos()])
    static_conn = writer.add_connection(hri.TF_STATIC_TOPIC, hri.TF_TYPE, typestore=typestore,
                                        offered_qos_profiles=[_offered_qos(latched=True)])

    def write(conn: Any, stamp_ns: int, msg: Any) -> None:
        writer.write(conn, stamp_ns, typestore.serialize_cdr(msg, conn.msgtype))

    write(static_conn, start_ns, types.new(hri.TF_TYPE, transforms=[
        hri.camera_transform(types, divmod(start_ns, 10**9), world_frame)]))
    spans = {}  # body id -> (first, last stamp): in view, so listed, in between
    for track in tracks:
        stamps = track.stamps(start_ns)
        spans[track.body_id] = (stamps[0], stamps[-1])
    count, last = 1, start_ns
    for stamp_ns, bodies in track_frames(tracks, start_ns, world_frame):
        stamp = divmod(stamp_ns, 10**9)
        in_view = [t.body_id for t in tracks
                   if spans[t.body_id][0] <= stamp_ns <= spans[t.body_id][1]]
        write(tracked_conn, stamp_ns, hri.build_tracked(types, stamp, BAG_CAMERA_FRAME, in_view))
        placed = [hri.build_body_tf(types, stamp, world_frame, body) for body in bodies]
        write(tf_conn, stamp_ns, types.new(hri.TF_TYPE, transforms=[
            t for roots, _ in placed for t in roots.transforms]))
        for _, links in placed:
            write(tf_conn, stamp_ns, links)
        count, last = count + 2 + len(placed), stamp_ns
    # One list after the last frame, naming nobody: the last people leave too.
    last += int(round(1e9 / max(t.fps for t in tracks)))
    write(tracked_conn, last, hri.build_tracked(types, divmod(last, 10**9), BAG_CAMERA_FRAME, []))
    return count + 1, last


def _offered_qos(latched: bool = False) -> Any:
    """Reliable, volatile, keep-last 10: what `ros2 bag play` offers (rclpy's default profile);
    latched (/tf_static): transient local, keep-last 1, as a static broadcaster offers."""
    from rosbags.interfaces import (
        Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime)
    unset = QosTime(0, 0)  # 0 = unspecified (infinite) in rosbag2's QoS yaml
    durability = QosDurability.TRANSIENT_LOCAL if latched else QosDurability.VOLATILE
    return Qos(QosHistory.KEEP_LAST, 1 if latched else 10, QosReliability.RELIABLE, durability,
               unset, unset, QosLiveliness.AUTOMATIC, unset, False)


def _clear_target(path: Path, overwrite: bool) -> None:
    """Refuse to write over an existing path unless it is a bag and overwrite is set."""
    if not path.exists():
        return
    if not overwrite:
        raise FileExistsError(f'{path} already exists (use --overwrite to replace it)')
    if not (path / 'metadata.yaml').is_file():
        raise FileExistsError(f'{path} exists and is not a rosbag2 folder; not replacing it')
    shutil.rmtree(path)


def _open_reader(path: str | Path) -> Any:
    """Open a rosbag2 folder with a clear error when it is not one."""
    from rosbags.rosbag2 import Reader
    from rosbags.rosbag2.errors import ReaderError
    path = Path(path)
    if not (path / 'metadata.yaml').is_file():
        raise FileNotFoundError(f'not a rosbag2 folder (no metadata.yaml): {path}')
    try:
        reader = Reader(path)
        reader.open()
    except ReaderError as err:
        raise ValueError(f'cannot read bag {path}: {err}') from err
    return reader


def bag_topics(path: str | Path) -> dict[str, str]:
    """Topic -> message type for every connection in a bag."""
    reader = _open_reader(path)
    try:
        return {c.topic: c.msgtype for c in reader.connections}
    finally:
        reader.close()


def latched_topics(path: str | Path) -> set[str]:
    """Topics a bag recorded from transient-local publishers (/tf_static): played back the same
    way, so subscribers that start later still get them."""
    from rosbags.interfaces import QosDurability
    reader = _open_reader(path)
    try:
        return {c.topic for c in reader.connections
                if any(q.durability == QosDurability.TRANSIENT_LOCAL
                       for q in getattr(c.ext, 'offered_qos_profiles', None) or [])}
    finally:
        reader.close()


def read_bag_raw(path: str | Path) -> Iterator[tuple[str, str, int, bytes]]:
    """Yield (topic, msgtype, log time ns, serialized cdr bytes) in time order."""
    reader = _open_reader(path)
    try:
        for conn, stamp_ns, raw in reader.messages():
            yield conn.topic, conn.msgtype, stamp_ns, bytes(raw)
    finally:
        reader.close()


def read_bag(path: str | Path) -> Iterator[tuple[str, int, Any]]:
    """Yield (topic, log time ns, deserialised rosbags message) in time order."""
    from rosbags.typesys import get_types_from_msg
    typestore = message_typestore()
    reader = _open_reader(path)
    try:
        for conn in reader.connections:  # types unknown to the store come from the bag itself
            if conn.msgtype not in typestore.types and conn.msgdef.data:
                typestore.register(get_types_from_msg(conn.msgdef.data, conn.msgtype))
        for conn, stamp_ns, raw in reader.messages():
            yield conn.topic, stamp_ns, typestore.deserialize_cdr(raw, conn.msgtype)
    finally:
        reader.close()
