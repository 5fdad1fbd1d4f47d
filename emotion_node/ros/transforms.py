"""TF without tf2: the transforms of /tf and /tf_static kept per link and composed at a stamp.

ROS4HRI body trackers publish each body's joints only as TF frames. `TransformTree` keeps a
bounded history of every link (child frame -> parent frame) from the TransformStamped messages
it is given and answers "where is the origin of frame F in frame T at stamp S" by walking both
frames up to their common ancestor, interpolating each link at S (linear translation, spherical
rotation). Like tf2 it never extrapolates: a link whose samples do not reach S is stale, except
within `max_age_s` of its nearest sample (trackers stamp the body root and its joints with the
same image stamp, but not always in one message). `Tf2Tree` gives the same answers from tf2's
own buffer where tf2_ros is installed; `make_tree` picks one.

Messages are duck-typed (rclpy and rosbags messages both work); nothing here needs ROS.
"""
from __future__ import annotations

import bisect
import importlib.util
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Protocol, Sequence

import numpy as np

# Why a joint frame could not be placed (or a transform was refused): stable keys, counted.
TF_STALE = 'tf_stale'  # its links have no sample near the stamp
TF_MISSING_LINK = 'tf_missing_link'  # no chain of links joins it to the fixed frame
TF_LOOP = 'tf_loop'  # following parents comes back to a frame already passed
TF_BAD_TRANSFORM = 'tf_bad_transform'  # empty frame ids, a frame its own parent, NaN, zero quat
TF_TOO_MANY_FRAMES = 'tf_too_many_frames'  # the tree's bound on frames is reached
TF_REASONS = (TF_STALE, TF_MISSING_LINK, TF_LOOP, TF_BAD_TRANSFORM, TF_TOO_MANY_FRAMES)

MAX_CHAIN = 256  # a longer parent chain than any robot's: treated as a loop
MAX_SAMPLES = 512  # per link, besides the history span


def frame_name(frame_id: str) -> str:
    """tf2 ignores a leading slash in frame ids."""
    return frame_id.lstrip('/')


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """(x, y, z, w) unit quaternion -> (3, 3) rotation."""
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def matrix_quaternion(r: np.ndarray) -> np.ndarray:
    """(3, 3) rotation -> (x, y, z, w) unit quaternion, w >= 0."""
    m = np.asarray(r, dtype=np.float64)
    # The largest of the four squared components keeps the division well conditioned.
    squares = np.array([1 + m[0, 0] - m[1, 1] - m[2, 2], 1 - m[0, 0] + m[1, 1] - m[2, 2],
                        1 - m[0, 0] - m[1, 1] + m[2, 2], 1 + m[0, 0] + m[1, 1] + m[2, 2]])
    k = int(np.argmax(squares))
    s = 2.0 * np.sqrt(squares[k])
    if k == 0:
        q = [s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif k == 1:
        q = [(m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    elif k == 2:
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s]
    else:
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
    out = np.array(q)
    return -out if out[3] < 0 else out


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between unit quaternions (the short way round)."""
    dot = float(np.dot(q0, q1))
    if dot < 0:
        q1, dot = -q1, -dot
    if dot > 0.9995:  # nearly equal: linear is exact enough and avoids dividing by ~0
        q = q0 + t * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(dot)
    return (np.sin((1 - t) * theta) * q0 + np.sin(t * theta) * q1) / np.sin(theta)


@dataclass
class _Link:
    """One child frame's transforms into its parent, oldest first."""

    parent: str
    static: bool
    stamps: list[int] = field(default_factory=list)  # ns
    translations: list[np.ndarray] = field(default_factory=list)
    rotations: list[np.ndarray] = field(default_factory=list)  # (x, y, z, w)

    def add(self, stamp_ns: int, translation: np.ndarray, rotation: np.ndarray,
            history_ns: int) -> None:
        """Insert a sample in stamp order (a repeated stamp replaces it); keep the history."""
        if self.static:
            self.stamps, self.translations, self.rotations = [0], [translation], [rotation]
            return
        i = bisect.bisect_left(self.stamps, stamp_ns)
        if i < len(self.stamps) and self.stamps[i] == stamp_ns:
            self.translations[i], self.rotations[i] = translation, rotation
            return
        self.stamps.insert(i, stamp_ns)
        self.translations.insert(i, translation)
        self.rotations.insert(i, rotation)
        oldest = bisect.bisect_left(self.stamps, self.stamps[-1] - history_ns)
        oldest = max(oldest, len(self.stamps) - MAX_SAMPLES)
        if oldest > 0:
            del self.stamps[:oldest], self.translations[:oldest], self.rotations[:oldest]

    @property
    def newest(self) -> int:
        return self.stamps[-1]

    def at(self, stamp_ns: int, max_age_ns: int) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """(rotation matrix, translation) at the stamp; None when no sample is near it."""
        if self.static:
            return quaternion_matrix(self.rotations[0]), self.translations[0]
        stamps = self.stamps
        if stamp_ns == 0:  # tf's "latest"
            return quaternion_matrix(self.rotations[-1]), self.translations[-1]
        i = bisect.bisect_left(stamps, stamp_ns)
        if i < len(stamps) and stamps[i] == stamp_ns:
            return quaternion_matrix(self.rotations[i]), self.translations[i]
        if 0 < i < len(stamps):  # between two samples
            t = (stamp_ns - stamps[i - 1]) / (stamps[i] - stamps[i - 1])
            q = slerp(self.rotations[i - 1], self.rotations[i], t)
            p = self.translations[i - 1] + t * (self.translations[i] - self.translations[i - 1])
            return quaternion_matrix(q), p
        nearest = 0 if i == 0 else len(stamps) - 1
        if abs(stamps[nearest] - stamp_ns) <= max_age_ns:
            return quaternion_matrix(self.rotations[nearest]), self.translations[nearest]
        return None


@dataclass(frozen=True)
class Placement:
    """Frame origins in a target frame at one stamp: (N, 3) positions, NaN where `reasons` says
    why not (None where placed)."""

    positions: np.ndarray
    reasons: list[Optional[str]]
    details: list[str]


class FrameTree(Protocol):
    """What the ROS4HRI input needs of a transform store (built-in or tf2)."""

    def add(self, transform: Any, static: bool) -> Optional[tuple[str, str]]:
        """Keep one geometry_msgs/TransformStamped; (reason, detail) when it is refused."""

    def place(self, target: str, frames: Sequence[str], stamp_ns: int) -> Placement:
        """The origins of `frames` in `target` at `stamp_ns`."""

    def covers(self, target: str, frames: Sequence[str], stamp_ns: int) -> bool:
        """True when every link between `frames` and `target` has a sample at or after
        `stamp_ns` (placing them then interpolates instead of waiting for data)."""

    def parent(self, frame: str) -> Optional[str]:
        """The frame's parent, or None."""

    def forget(self, frames: Iterable[str]) -> None:
        """Drop the links of these child frames (a body that left)."""


class TransformTree:
    """A bounded TF buffer composed in numpy (see the module docstring)."""

    name = 'built-in'

    def __init__(self, history_s: float = 2.0, max_age_s: float = 0.1,
                 max_frames: int = 4096) -> None:
        self.history_ns = int(history_s * 1e9)
        self.max_age_ns = int(max_age_s * 1e9)
        self.max_frames = int(max_frames)
        self._links: dict[str, _Link] = {}

    def __len__(self) -> int:
        return len(self._links)

    def add(self, transform: Any, static: bool) -> Optional[tuple[str, str]]:
        """Keep one TransformStamped (a link's parent change starts its history anew)."""
        child = frame_name(transform.child_frame_id)
        parent = frame_name(transform.header.frame_id)
        if not child or not parent or child == parent:
            return TF_BAD_TRANSFORM, f'transform {parent!r} -> {child!r}: empty or self parent'
        t, r = transform.transform.translation, transform.transform.rotation
        translation = np.array([t.x, t.y, t.z], dtype=np.float64)
        rotation = np.array([r.x, r.y, r.z, r.w], dtype=np.float64)
        norm = float(np.linalg.norm(rotation))
        if not (np.isfinite(translation).all() and np.isfinite(norm) and norm > 1e-6):
            return TF_BAD_TRANSFORM, f'transform {parent!r} -> {child!r}: NaN or zero rotation'
        stamp = transform.header.stamp
        stamp_ns = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
        link = self._links.get(child)
        if link is None or link.parent != parent or link.static != static:
            if link is None and len(self._links) >= self.max_frames:
                return TF_TOO_MANY_FRAMES, f'{self.max_frames} frames kept: {child!r} dropped'
            link = self._links[child] = _Link(parent, static)
        link.add(stamp_ns, translation, rotation / norm, self.history_ns)
        return None

    def parent(self, frame: str) -> Optional[str]:
        link = self._links.get(frame_name(frame))
        return link.parent if link else None

    def forget(self, frames: Iterable[str]) -> None:
        for frame in frames:
            self._links.pop(frame_name(frame), None)

    def _chain(self, frame: str) -> tuple[list[str], Optional[str]]:
        """The frame and its ancestors up to the root, or a loop reason."""
        chain, seen = [frame], {frame}
        while frame in self._links:
            frame = self._links[frame].parent
            if frame in seen or len(chain) > MAX_CHAIN:
                return chain, TF_LOOP
            chain.append(frame)
            seen.add(frame)
        return chain, None

    def covers(self, target: str, frames: Sequence[str], stamp_ns: int) -> bool:
        root = self._chain(frame_name(target))[0][-1]
        for frame in [frame_name(target), *map(frame_name, frames)]:
            chain, loop = self._chain(frame)
            if loop:
                return True  # waiting will not mend it: place now and count it
            if chain[-1] != root:
                return False  # not joined to the target yet (links come after the root)
            for child in chain[:-1]:
                link = self._links[child]
                if not link.static and link.newest < stamp_ns:
                    return False
        return True

    def place(self, target: str, frames: Sequence[str], stamp_ns: int) -> Placement:
        target = frame_name(target)
        memo: dict[str, Any] = {}
        to_root = self._to_root(target, stamp_ns, memo)
        positions = np.full((len(frames), 3), np.nan)
        reasons: list[Optional[str]] = []
        details: list[str] = []
        for i, frame in enumerate(frames):
            placed = self._to_root(frame_name(frame), stamp_ns, memo)
            reason, detail = _why_not(frame, target, placed, to_root)
            if reason is None:
                t_src, (_, r_tgt, t_tgt) = placed[2], to_root
                positions[i] = r_tgt.T @ (t_src - t_tgt)
            reasons.append(reason)
            details.append(detail)
        return Placement(positions, reasons, details)

    def _to_root(self, frame: str, stamp_ns: int, memo: dict[str, Any]) -> Any:
        """(root, R, t): the frame in its root's coordinates at the stamp, or (reason, detail)."""
        if frame in memo:
            return memo[frame]
        chain, loop = self._chain(frame)
        if loop:
            out: Any = (TF_LOOP, f'its parents loop ({" -> ".join(chain)})')
        elif frame not in self._links:  # a root (or a frame nobody published)
            out = (frame, np.eye(3), np.zeros(3))
        else:
            link = self._links[frame]
            up = self._to_root(link.parent, stamp_ns, memo)
            sample = link.at(stamp_ns, self.max_age_ns)
            if len(up) == 2:
                out = up
            elif sample is None:
                out = (TF_STALE, f'link {link.parent!r} -> {frame!r} has no transform within '
                                 f'{self.max_age_ns * 1e-9:g} s of the stamp')
            else:
                root, r_up, t_up = up
                r, t = sample
                out = (root, r_up @ r, r_up @ t + t_up)
        memo[frame] = out
        return out


def _why_not(frame: str, target: str, placed: Any, to_root: Any) -> tuple[Optional[str], str]:
    """None when both reach one root; else the reason (the target's own first)."""
    for name, found in ((target, to_root), (frame, placed)):
        if len(found) == 2:
            return found[0], f'frame {name!r}: {found[1]}'
    if placed[0] != to_root[0]:
        return TF_MISSING_LINK, (f'no link joins {frame!r} (root {placed[0]!r}) and {target!r} '
                                 f'(root {to_root[0]!r})')
    return None, ''


class Tf2Tree:
    """The same answers from tf2_ros's Buffer (where tf2 is installed): its cache and lookups,
    the built-in tree's tolerance around the stamp."""

    name = 'tf2'

    def __init__(self, history_s: float = 2.0, max_age_s: float = 0.1) -> None:
        import tf2_ros
        from rclpy.duration import Duration
        self._tf2 = tf2_ros
        self._buffer = tf2_ros.Buffer(cache_time=Duration(seconds=max(history_s, 1.0)))
        self.max_age_ns = int(max_age_s * 1e9)
        self._parents: dict[str, str] = {}

    def add(self, transform: Any, static: bool) -> Optional[tuple[str, str]]:
        child = frame_name(transform.child_frame_id)
        parent = frame_name(transform.header.frame_id)
        if not child or not parent or child == parent:
            return TF_BAD_TRANSFORM, f'transform {parent!r} -> {child!r}: empty or self parent'
        setter = self._buffer.set_transform_static if static else self._buffer.set_transform
        try:
            setter(transform, 'emotion_node')
        except self._tf2.TransformException as err:
            return TF_BAD_TRANSFORM, f'transform {parent!r} -> {child!r}: {err}'
        self._parents[child] = parent
        return None

    def parent(self, frame: str) -> Optional[str]:
        return self._parents.get(frame_name(frame))

    def forget(self, frames: Iterable[str]) -> None:
        for frame in frames:  # tf2 ages them out of its cache itself
            self._parents.pop(frame_name(frame), None)

    def covers(self, target: str, frames: Sequence[str], stamp_ns: int) -> bool:
        from rclpy.time import Time
        return all(self._buffer.can_transform(target, f, Time(nanoseconds=stamp_ns))
                   for f in frames)

    def place(self, target: str, frames: Sequence[str], stamp_ns: int) -> Placement:
        from rclpy.time import Time
        tf2 = self._tf2
        positions = np.full((len(frames), 3), np.nan)
        reasons: list[Optional[str]] = []
        details: list[str] = []
        for i, frame in enumerate(frames):
            reason, detail = None, ''
            try:
                try:
                    found = self._buffer.lookup_transform(target, frame,
                                                          Time(nanoseconds=stamp_ns))
                except tf2.ExtrapolationException:  # the built-in tree's tolerance
                    found = self._buffer.lookup_transform(target, frame, Time())
                    s = found.header.stamp
                    age = abs(int(s.sec) * 1_000_000_000 + int(s.nanosec) - stamp_ns)
                    if age > self.max_age_ns:
                        raise
                t = found.transform.translation
                positions[i] = (t.x, t.y, t.z)
            except tf2.ExtrapolationException as err:
                reason, detail = TF_STALE, f'frame {frame!r}: {err}'
            except (tf2.LookupException, tf2.ConnectivityException) as err:
                reason, detail = TF_MISSING_LINK, f'frame {frame!r}: {err}'
            except tf2.TransformException as err:
                reason, detail = TF_LOOP, f'frame {frame!r}: {err}'
            reasons.append(reason)
            details.append(detail)
        return Placement(positions, reasons, details)


def tf2_installed() -> bool:
    """True where tf2_ros can be imported."""
    return importlib.util.find_spec('tf2_ros') is not None


def make_tree(backend: str, history_s: float, max_age_s: float) -> FrameTree:
    """'auto' (tf2 where installed), 'tf2' or 'builtin'; ValueError for tf2 without it."""
    if backend == 'tf2' or (backend == 'auto' and tf2_installed()):
        if not tf2_installed():
            raise ValueError('input.tf_backend tf2 needs tf2_ros (apt install '
                             'ros-$ROS_DISTRO-tf2-ros), which is not installed')
        return Tf2Tree(history_s, max_age_s)
    if backend not in ('auto', 'builtin'):
        raise ValueError(f'unknown tf backend {backend!r}; expected auto, tf2 or builtin')
    return TransformTree(history_s, max_age_s)
