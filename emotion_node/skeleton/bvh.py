"""BVH reader with vectorised forward kinematics, output in the REP-103 frame (metres, Z up).

Parsing and forward kinematics live in `bvh_parse`; which joint is which, the up axis and the
unit of a file are told by `conventions` and `frames`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_node.skeleton.bvh_parse import STATIC_ROOT_NAMES, read_skeleton
from emotion_node.skeleton.conventions import HEAD_CENTRE_OFFSET_M, read_bvh_motion
from emotion_node.skeleton.frames import Y_UP_TO_REP103

# BVH (Y up, character forward +Z, +X to the character's left, centimetres) -> REP-103
# (X forward, Y left, Z up, metres): x' = z, y' = x, z' = y. A cyclic axis permutation, so a
# proper rotation (det = +1) that keeps left and right.
BVH_TO_REP103 = Y_UP_TO_REP103
CM_TO_M = 0.01
__all__ = ["BVH_TO_REP103", "CM_TO_M", "HEAD_CENTRE_OFFSET_M", "STATIC_ROOT_NAMES", "BvhMotion",
           "read_bvh", "read_bvh_canonical"]


@dataclass
class BvhMotion:
    """Joint positions from a BVH clip (End Sites and the static root excluded)."""

    joint_names: list[str]
    parents: list[int]
    positions: np.ndarray  # (T, J, 3) metres, REP-103 frame
    fps: float


def read_bvh(path: str | Path) -> BvhMotion:
    """Read a BVH file's joints in metres, REP-103 frame (X fwd, Y left, Z up), taking the file
    as Y up in centimetres (Bandai's convention; `read_bvh_canonical` detects both)."""
    skel = read_skeleton(Path(path))
    out = (skel.positions @ BVH_TO_REP103.T) * CM_TO_M  # (T, J, 3) metres
    return BvhMotion(skel.names, skel.parents, out.astype(np.float32), skel.fps)


def read_bvh_canonical(path: str | Path, head_centre_m: float = HEAD_CENTRE_OFFSET_M
                       ) -> tuple[np.ndarray, np.ndarray, float]:
    """Read a BVH file as canonical positions (T, 21, 3) float32, mask (T, 21) and fps.

    The skeleton convention (Bandai, CMU, Mixamo, Xsens, OptiTrack, Vicon, Perception Neuron),
    its up axis and its unit are detected from the file (`conventions.read_bvh_motion`).
    The dataset's Head joint sits at the top of the neck, while trackers report the head
    centre; canonical head is therefore moved head_centre_m along the head's own bone axis
    (the direction of its OFFSET, in its rotated frame). Pass 0 to keep the raw joint.
    """
    motion = read_bvh_motion(path, head_centre_m=head_centre_m)
    return motion.positions, motion.mask, motion.fps
