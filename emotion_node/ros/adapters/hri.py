"""ROS4HRI bodies (REP-155): `/humans/bodies/tracked` names the bodies, TF places their joints.

A ROS4HRI body tracker (hri_body_detect, PAL's robots) publishes the ids of the bodies it tracks
as hri_msgs/IdsList and each body's skeleton only as TF: the frame `body_<id>` in the camera's
frame, and below it the frames of the human_description model (`torso_<id>`, `l_elbow_<id>`...)
from joint states through robot_state_publisher. `HriBodies` keeps /tf and /tf_static in a
transform tree (tf2 where installed, else `ros/transforms.py`), and each time a tracked body's
root frame gets a new stamp it reads every joint frame of that body in one fixed frame at that
stamp, once the joints' links have caught up with it (or a newer root stamp shows they will not).

Bodies the list drops are reported as left (the node loses them at once) and their frames are
forgotten; a body whose frames stop coming is not fed (its root frame gives no new stamps), and
joints whose links are stale, looped or missing are masked and counted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from emotion_node.ros.adapters.common import layout_points
from emotion_node.ros.convert import (
    DEFAULT_MIN_VALID_JOINTS, DUPLICATE_BODY_ID, MISSING_BODY_ID, TOO_MANY_BODIES, BodyFrame,
    InputBatch, MessageFactory, Rejection, Stamp, _canonical_body, _header, up_axis_rotation)
from emotion_node.ros.transforms import (
    TF_LOOP, TF_MISSING_LINK, TF_STALE, FrameTree, make_tree, matrix_quaternion)
from emotion_node.skeleton.layouts import get_layout

TRACKED_TYPE = 'hri_msgs/msg/IdsList'
TF_TYPE = 'tf2_msgs/msg/TFMessage'
DEFAULT_TOPIC = '/humans/bodies/tracked'
TF_TOPIC = '/tf'
TF_STATIC_TOPIC = '/tf_static'
LAYOUT = get_layout('ros4hri')
ROOT_JOINT = LAYOUT.joints[0]  # 'body': the frame the tracker places itself
BODY_WITHOUT_FRAMES = 'body_without_frames'
# A listed body counts as having no frames once this many lists in a row name it without any
# (the first list of a new body may come before its first transforms).
LISTS_BEFORE_MISSING = 3
MAX_PENDING = 64  # root stamps kept per body while its joints catch up (2 s at 30 Hz)
BAG_CAMERA_FRAME = 'camera'  # bags: world -> camera on /tf_static, camera -> body_<id> on /tf
BAG_CAMERA_POSE = (np.array([0.4, -0.3, 1.2]), 0.35)  # translation (m), yaw (rad)


def joint_frame(joint: str, body_id: str) -> str:
    """ROS4HRI frame name of one joint of one body: `l_elbow_<id>`."""
    return f'{joint}_{body_id}'


def body_frames(body_id: str) -> list[str]:
    """Every joint frame of one body, in layout order (the root first)."""
    return [joint_frame(j, body_id) for j in LAYOUT.joints]


def root_body_id(child_frame: str) -> Optional[str]:
    """`body_<id>` -> id (None for any other frame)."""
    prefix = f'{ROOT_JOINT}_'
    frame = child_frame.lstrip('/')
    return frame[len(prefix):] if frame.startswith(prefix) and len(frame) > len(prefix) else None


@dataclass(frozen=True)
class HriSettings:
    """What the ROS4HRI input reads with (from the node's parameters)."""

    fixed_frame: str = ''  # empty: the frame each body's root is published in
    tf_backend: str = 'auto'
    tf_max_age_s: float = 0.1
    history_s: float = 2.0
    max_bodies: Optional[int] = None
    min_valid_joints: int = DEFAULT_MIN_VALID_JOINTS


class HriBodies:
    """The state of a ROS4HRI input: tracked ids, the transform tree, stamps waiting to be read.

    `on_tracked` takes an IdsList, `on_tf` a TFMessage; both return an InputBatch. Not thread
    safe: the node calls both from one mutually exclusive callback group.
    """

    def __init__(self, settings: HriSettings, tree: Optional[FrameTree] = None) -> None:
        self.settings = settings
        self.tree = tree if tree is not None else make_tree(
            settings.tf_backend, settings.history_s, settings.tf_max_age_s)
        self.tracked: list[str] = []
        self.up_axis = 'z'  # of the fixed frame (REP-103: Z up); a run-time parameter
        self._listed_without_frames: dict[str, int] = {}
        self._pending: dict[str, list[int]] = {}  # body id -> root stamps (ns) not yet read

    # --- messages -----------------------------------------------------------------------------

    def on_tracked(self, msg: Any) -> InputBatch:
        """A new list of tracked bodies: who left, who is listed without frames."""
        rejections: list[Rejection] = []
        seen: dict[str, int] = {}
        for body_id in msg.ids:
            seen[body_id] = seen.get(body_id, 0) + 1
        tracked: list[str] = []
        for i, body_id in enumerate(msg.ids):
            if not body_id:
                rejections.append(Rejection(MISSING_BODY_ID, f'IdsList entry #{i} is empty'))
            elif seen[body_id] > 1:
                if body_id not in tracked:  # listed twice: still one body
                    tracked.append(body_id)
            elif self.settings.max_bodies is not None and \
                    len(tracked) >= self.settings.max_bodies:
                rejections.append(Rejection(TOO_MANY_BODIES, f'body {body_id!r} beyond '
                                            f'max_bodies={self.settings.max_bodies}'))
            else:
                tracked.append(body_id)
        rejections += [Rejection(DUPLICATE_BODY_ID, f'IdsList names {b!r} {n} times')
                       for b, n in seen.items() if b and n > 1]
        left = [b for b in self.tracked if b not in tracked]
        self.tracked = tracked
        stamp = msg.header.stamp
        listed_ns = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
        # Bodies the list leaves out though their frames are older than it: not tracked (an
        # unstamped list: none are), so their frames are dropped, not kept without bound.
        untracked = [b for b, stamps in self._pending.items() if b not in tracked and
                     (not listed_ns or not stamps or stamps[-1] <= listed_ns)]
        for body_id in dict.fromkeys(left + untracked):
            self._pending.pop(body_id, None)
            self._listed_without_frames.pop(body_id, None)
            self.tree.forget(body_frames(body_id))
        rejections += self._without_frames()
        frames, read_rejections = self._read_ready()
        return InputBatch(frames, rejections + read_rejections, left)

    def on_tf(self, msg: Any, static: bool) -> InputBatch:
        """Transforms in: keep them, note new root stamps, read the bodies that are ready."""
        rejections: list[Rejection] = []
        for transform in msg.transforms:
            refused = self.tree.add(transform, static)
            if refused is not None:
                rejections.append(Rejection(*refused))
                continue
            body_id = root_body_id(transform.child_frame_id)
            if body_id is not None and not static:
                stamp = transform.header.stamp
                self._note(body_id, int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec))
        frames, read_rejections = self._read_ready()
        return InputBatch(frames, rejections + read_rejections)

    # --- reading ------------------------------------------------------------------------------

    def _note(self, body_id: str, stamp_ns: int) -> None:
        """Remember a root stamp to read (in order, once; bounded per body)."""
        stamps = self._pending.setdefault(body_id, [])
        if stamp_ns in stamps:
            return
        stamps.append(stamp_ns)
        stamps.sort()
        del stamps[:-MAX_PENDING]

    def _without_frames(self) -> list[Rejection]:
        """Tracked bodies that several lists in a row named without any TF frame."""
        out = []
        for body_id in self.tracked:
            if self.tree.parent(joint_frame(ROOT_JOINT, body_id)) is not None:
                self._listed_without_frames.pop(body_id, None)
                continue
            n = self._listed_without_frames[body_id] = \
                self._listed_without_frames.get(body_id, 0) + 1
            if n >= LISTS_BEFORE_MISSING:
                out.append(Rejection(BODY_WITHOUT_FRAMES, f'body {body_id!r} is tracked but '
                                     f'no frame {joint_frame(ROOT_JOINT, body_id)!r} came in '
                                     f'{n} lists'))
        return out

    def _read_ready(self) -> tuple[list[BodyFrame], list[Rejection]]:
        """Read every tracked body's pending stamps whose links have caught up; an older stamp
        is read as soon as a newer one exists (its joints' links will not get better)."""
        frames: list[BodyFrame] = []
        rejections: list[Rejection] = []
        for body_id in self.tracked:
            stamps = self._pending.get(body_id)
            while stamps:
                target = self._target(body_id)
                names = body_frames(body_id)
                if len(stamps) == 1 and not self.tree.covers(target, names, stamps[0]):
                    break
                out = self._read(body_id, target, names, stamps.pop(0))
                frames += [o for o in out if isinstance(o, BodyFrame)]
                rejections += [o for o in out if isinstance(o, Rejection)]
        return frames, rejections

    def _target(self, body_id: str) -> str:
        """The fixed frame, or the frame the body's root is published in."""
        return self.settings.fixed_frame or \
            self.tree.parent(joint_frame(ROOT_JOINT, body_id)) or ''

    def _read(self, body_id: str, target: str, names: Sequence[str],
              stamp_ns: int) -> list[BodyFrame | Rejection]:
        """One body at one stamp: its joint frames placed in the target frame."""
        placed = self.tree.place(target, names, stamp_ns)
        seen = np.array([r is None for r in placed.reasons])
        lost: dict[str, list[tuple[str, str]]] = {}  # reason -> (joint, detail) of each
        for joint, reason, detail in zip(LAYOUT.joints, placed.reasons, placed.details):
            if reason is not None:
                lost.setdefault(reason, []).append((joint, detail))
        positions = np.where(seen[:, None], placed.positions, np.nan)
        sec, nsec = divmod(stamp_ns, 1_000_000_000)
        stamp = float(sec) + float(nsec) * 1e-9  # as a header stamp is read
        out = _canonical_body(body_id, stamp, target, LAYOUT, positions, None, 0.0,
                              up_axis_rotation(self.up_axis), self.settings.min_valid_joints)
        notes: list[BodyFrame | Rejection] = []
        dropped = isinstance(out, Rejection)
        for reason in (TF_LOOP, TF_MISSING_LINK, TF_STALE):  # the cause, not just the count
            if reason in lost:
                (_, first), *more = lost[reason]  # the first joint's detail, the others named
                notes.append(Rejection(reason, f'body {body_id!r}: {first}'
                                       + (f' (and {", ".join(j for j, _ in more)})'
                                          if more else '')
                                       + ('; body dropped' if dropped else '; joints masked')))
        if isinstance(out, BodyFrame):
            out.repaired_joints = 0  # unplaced joints are counted by reason above
            return [out, *notes]
        return notes or [out]


# --- bags ----------------------------------------------------------------------------------------

def _yaw(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _pitch(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _transform(types: MessageFactory, stamp: Stamp, parent: str, child: str,
               rotation: np.ndarray, translation: np.ndarray) -> Any:
    """geometry_msgs/TransformStamped: child's pose in parent."""
    q = matrix_quaternion(rotation)
    return types.new('geometry_msgs/msg/TransformStamped', header=_header(types, stamp, parent),
                     child_frame_id=child,
                     transform=types.new(
                         'geometry_msgs/msg/Transform',
                         translation=types.new('geometry_msgs/msg/Vector3',
                                               x=float(translation[0]), y=float(translation[1]),
                                               z=float(translation[2])),
                         rotation=types.new('geometry_msgs/msg/Quaternion', x=float(q[0]),
                                            y=float(q[1]), z=float(q[2]), w=float(q[3]))))


def camera_transform(types: MessageFactory, stamp: Stamp, world_frame: str) -> Any:
    """The bags' static camera pose in the world (for /tf_static)."""
    translation, yaw = BAG_CAMERA_POSE
    return _transform(types, stamp, world_frame, BAG_CAMERA_FRAME, _yaw(yaw), translation)


def build_tracked(types: MessageFactory, stamp: Stamp, frame_id: str,
                  body_ids: Sequence[str]) -> Any:
    """hri_msgs/IdsList naming the bodies."""
    return types.new(TRACKED_TYPE, header=_header(types, stamp, frame_id), ids=list(body_ids))


def build_body_tf(types: MessageFactory, stamp: Stamp, world_frame: str,
                  body: BodyFrame) -> tuple[Any, Any]:
    """One body as a tracker publishes it: (TFMessage with camera -> body_<id>, TFMessage with
    the model's links), the body's world positions composing back exactly.

    Every frame gets its own orientation (the body's heading, tilted more at each level of
    the tree) so a reader must compose rotations, not only add translations.
    """
    points, seen = layout_points(body, LAYOUT)
    points = points.astype(np.float64)
    root = LAYOUT.joints.index(ROOT_JOINT)
    if not seen[root]:
        raise ValueError(f'body {body.body_id!r} has no pelvis: no ROS4HRI root frame')
    # The waist shares the root's origin in the model.
    waist = LAYOUT.joints.index('waist')
    points[waist], seen[waist] = points[root], True
    left, right = (LAYOUT.joints.index(j) for j in ('l_hip', 'r_hip'))
    across = points[left] - points[right] if seen[left] and seen[right] else np.array([0, 1, 0])
    heading = float(np.arctan2(-across[0], across[1]))  # facing +x when the left hip is +y
    depth = [0] * len(LAYOUT.joints)
    for j, parent in enumerate(LAYOUT.parents):
        depth[j] = 0 if parent < 0 else depth[parent] + 1
    world_rotation = [_yaw(heading) @ _pitch(0.15 * d) for d in depth]
    cam_t, cam_yaw = BAG_CAMERA_POSE
    cam_r = _yaw(cam_yaw)
    root_r = cam_r.T @ world_rotation[root]
    root_t = cam_r.T @ (points[root] - cam_t)
    roots = types.new(TF_TYPE, transforms=[_transform(
        types, stamp, BAG_CAMERA_FRAME, joint_frame(ROOT_JOINT, body.body_id), root_r, root_t)])
    links = []
    for j, parent in enumerate(LAYOUT.parents):
        if parent < 0 or not seen[j] or not seen[parent]:
            continue
        rp = world_rotation[parent]
        links.append(_transform(types, stamp, joint_frame(LAYOUT.joints[parent], body.body_id),
                                joint_frame(LAYOUT.joints[j], body.body_id),
                                rp.T @ world_rotation[j], rp.T @ (points[j] - points[parent])))
    return roots, types.new(TF_TYPE, transforms=links)
