"""BVH text parser and vectorised forward kinematics, in the file's own axes and units."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

# Bandai's static world root: constant, so it is dropped from every clip's joints.
STATIC_ROOT_NAMES = ("joint_Root",)
_AXES = {"X": 0, "Y": 1, "Z": 2}


@dataclass
class BvhJoint:
    """One JOINT/ROOT: its parent index, OFFSET and the columns of its channels."""

    name: str
    parent: int
    offset: np.ndarray
    channels: list[str] = field(default_factory=list)
    first_channel: int = 0


class _Tokens:
    """Whitespace tokens with their line numbers, for error messages."""

    def __init__(self, lines: list[str], path: Path):
        self.items = [(tok, no + 1) for no, line in enumerate(lines) for tok in line.split()]
        self.pos = 0
        self.path = path

    def error(self, msg: str) -> ValueError:
        # The line of the last token read: the offending one.
        line = self.items[min(max(self.pos - 1, 0), len(self.items) - 1)][1] if self.items else 0
        return ValueError(f"{self.path}:{line}: malformed BVH: {msg}")

    def next(self) -> str:
        if self.pos >= len(self.items):
            raise self.error("unexpected end of file")
        tok = self.items[self.pos][0]
        self.pos += 1
        return tok

    def expect(self, want: str) -> None:
        tok = self.next()
        if tok != want:
            raise self.error(f"expected {want!r}, got {tok!r}")

    def floats(self, n: int) -> np.ndarray:
        vals = [self.next() for _ in range(n)]
        try:
            return np.array([float(v) for v in vals])
        except ValueError:
            raise self.error(f"expected {n} numbers, got {vals}") from None


def _parse_joint(tok: _Tokens, name: str, parent: int, joints: list[BvhJoint], n_ch: int) -> int:
    """Parse one JOINT/ROOT block (after its name); returns the running channel count."""
    tok.expect("{")
    tok.expect("OFFSET")
    joint = BvhJoint(name, parent, tok.floats(3))
    me = len(joints)
    joints.append(joint)
    while True:
        key = tok.next()
        if key == "CHANNELS":
            try:
                count = int(tok.next())
            except ValueError:
                raise tok.error("CHANNELS count is not an integer") from None
            joint.channels = [tok.next() for _ in range(count)]
            bad = [c for c in joint.channels if len(c) != 9 or c[0] not in _AXES
                   or c[1:] not in ("position", "rotation")]
            if bad:
                raise tok.error(f"unknown channel(s) {bad} in joint {name!r}")
            joint.first_channel = n_ch
            n_ch += count
        elif key == "JOINT":
            n_ch = _parse_joint(tok, tok.next(), me, joints, n_ch)
        elif key == "End":
            tok.expect("Site")
            tok.expect("{")
            tok.expect("OFFSET")
            tok.floats(3)
            tok.expect("}")
        elif key == "}":
            return n_ch
        else:
            raise tok.error(f"unexpected token {key!r} in joint {name!r}")


def parse_bvh(path: Path) -> tuple[list[BvhJoint], np.ndarray, float]:
    """Parse hierarchy and motion; returns joints, (T, C) channel values and frame time."""
    text = path.read_text()
    lines = text.splitlines()
    try:
        motion_line = next(i for i, ln in enumerate(lines) if ln.strip() == "MOTION")
    except StopIteration:
        raise ValueError(f"{path}: malformed BVH: no MOTION section") from None
    tok = _Tokens(lines[:motion_line], path)
    tok.expect("HIERARCHY")
    tok.expect("ROOT")
    joints: list[BvhJoint] = []
    n_ch = _parse_joint(tok, tok.next(), -1, joints, 0)
    if tok.pos != len(tok.items):
        raise tok.error("trailing tokens after the hierarchy (only one ROOT is supported)")
    head = lines[motion_line + 1: motion_line + 3]
    if (len(head) < 2 or not head[0].strip().startswith("Frames:")
            or not head[1].strip().startswith("Frame Time:")):
        raise ValueError(f"{path}:{motion_line + 2}: malformed BVH: expected 'Frames:' and "
                         "'Frame Time:' lines after MOTION")
    try:
        n_frames = int(head[0].split(":")[1])
        frame_time = float(head[1].split(":")[1])
        values = np.array(" ".join(lines[motion_line + 3:]).split(), dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{path}:{motion_line + 2}: malformed BVH motion data: {err}") from None
    if n_frames < 1 or frame_time <= 0 or values.size != n_frames * n_ch:
        raise ValueError(f"{path}:{motion_line + 2}: malformed BVH: {n_frames} frames x "
                         f"{n_ch} channels needs {n_frames * n_ch} values, found {values.size} "
                         f"(frame time {frame_time})")
    return joints, values.reshape(n_frames, n_ch), frame_time


def _axis_rotation(axis: int, deg: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, 3, 3) about one coordinate axis by angles in degrees."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    rot = np.zeros(deg.shape + (3, 3))
    rot[..., axis, axis] = 1.0
    rot[..., i, i] = c
    rot[..., j, j] = c
    rot[..., i, j] = -s
    rot[..., j, i] = s
    return rot


def _local_transform(joint: BvhJoint, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local translation (T, 3) and rotation (T, 3, 3) of one joint from its channels."""
    n_frames = motion.shape[0]
    trans = np.broadcast_to(joint.offset, (n_frames, 3)).copy()
    rot = np.broadcast_to(np.eye(3), (n_frames, 3, 3)).copy()
    for k, ch in enumerate(joint.channels):
        col = motion[:, joint.first_channel + k]
        axis = _AXES[ch[0]]
        if ch.endswith("position"):
            trans[:, axis] = col  # position channels replace the OFFSET component
        else:
            rot = rot @ _axis_rotation(axis, col)  # channel order = intrinsic rotation order
    return trans, rot


def _forward_kinematics(joints: list[BvhJoint], motion: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Global positions (T, J, 3) and rotations (T, J, 3, 3) in the BVH frame."""
    n_frames = motion.shape[0]
    pos = np.zeros((n_frames, len(joints), 3))
    rots = np.zeros((n_frames, len(joints), 3, 3))
    for j, joint in enumerate(joints):  # parents precede children in file order
        trans, rot = _local_transform(joint, motion)
        if joint.parent < 0:
            pos[:, j] = trans
            rots[:, j] = rot
        else:
            prot = rots[:, joint.parent]
            pos[:, j] = np.einsum("tij,tj->ti", prot, trans) + pos[:, joint.parent]
            rots[:, j] = prot @ rot
    return pos, rots


def fps_from_frame_time(frame_time: float) -> float:
    """Frame rate from a frame time, snapped to an integer when it is printed rounded."""
    fps = 1.0 / frame_time
    # 'Frame Time: 0.0333333' means 30 fps, not 30.00003.
    return float(round(fps)) if abs(fps - round(fps)) < 1e-3 else fps


@dataclass
class BvhSkeleton:
    """A clip's joints after forward kinematics, in the file's own axes and units."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray    # (J, 3) OFFSET of each joint, in its parent's frame
    positions: np.ndarray  # (T, J, 3) float64, file axes and units
    rotations: np.ndarray  # (T, J, 3, 3) joint-local axes -> file axes
    fps: float


def read_skeleton(path: Path, drop: Sequence[str] = STATIC_ROOT_NAMES) -> BvhSkeleton:
    """Parse a BVH file and run forward kinematics; joints named in `drop` are left out."""
    joints, motion, frame_time = parse_bvh(path)
    pos, rots = _forward_kinematics(joints, motion)
    keep = [i for i, jt in enumerate(joints) if jt.name not in drop]
    if not keep:
        raise ValueError(f"{path}: BVH has no joints besides the static root")
    remap = {old: new for new, old in enumerate(keep)}
    parents = []
    for i in keep:
        p = joints[i].parent
        while p >= 0 and p not in remap:  # skip over dropped ancestors
            p = joints[p].parent
        parents.append(remap.get(p, -1))
    return BvhSkeleton([joints[i].name for i in keep], parents,
                       np.array([joints[i].offset for i in keep]).reshape(-1, 3),
                       pos[:, keep], rots[:, keep], fps_from_frame_time(frame_time))
