"""Joint position arrays (SMPL / SMPL-X / AMASS-style .npz and .npy) read into raw frames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# SMPL's 24 joints in order; SMPL-X and SMPL+H share the first 22 (the body).
SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
# Joint count of an unnamed array -> body joints kept: SMPL (22 or 24), SMPL-X (55; 127 or 144
# with its extra face and foot landmarks) whose first 22 joints are SMPL's body.
SMPL_BODY_JOINTS: dict[int, int] = {22: 22, 24: 24, 52: 22, 55: 22, 127: 22, 144: 22}
POSITION_KEYS = ("joints", "positions")
FPS_KEYS = ("fps", "mocap_framerate")
NAMES_KEY = "joint_names"


@dataclass
class JointArrays:
    """Raw joint positions of a clip, in the file's own axes and units."""

    positions: np.ndarray  # (T, J, 3) float64, NaN where a joint was not seen
    names: tuple[str, ...]
    fps: float | None      # None: the file gives no frame rate


def _shape_error(path: Path, shape: tuple[int, ...], why: str) -> ValueError:
    """A ValueError naming the file, the array's shape and what was expected."""
    return ValueError(f"{path}: joint positions of shape {shape} {why}; expected (T, J, 3) with "
                      f"joint_names, or J in {sorted(SMPL_BODY_JOINTS)} (SMPL / SMPL-X order)")


def _names_for(path: Path, positions: np.ndarray, names: Any) -> tuple[np.ndarray, tuple]:
    """Positions and joint names: given names, else SMPL's for a known SMPL/SMPL-X size."""
    shape = positions.shape
    if positions.ndim != 3 or shape[2] != 3 or shape[0] < 1 or shape[1] < 1:
        raise _shape_error(path, shape, "are not (T, J, 3)")
    if names is not None:
        names = tuple(str(n) for n in np.asarray(names).reshape(-1))
        if len(names) != shape[1]:
            raise _shape_error(path, shape, f"do not match its {len(names)} joint_names")
        return positions, names
    if shape[1] not in SMPL_BODY_JOINTS:
        raise _shape_error(path, shape, "have no joint_names and no SMPL joint count")
    body = SMPL_BODY_JOINTS[shape[1]]
    return positions[:, :body], SMPL_JOINT_NAMES[:body]


def _fps(path: Path, data: Any) -> float | None:
    """The frame rate stored under one of FPS_KEYS, if any."""
    for key in FPS_KEYS:
        if key in data.files:
            fps = np.asarray(data[key], dtype=np.float64).reshape(-1)
            if fps.size != 1 or not (np.isfinite(fps[0]) and fps[0] > 0):
                raise ValueError(f"{path}: '{key}' must be one positive number, got {fps}")
            return float(fps[0])
    return None


def read_joint_arrays(path: str | Path) -> JointArrays:
    """Read a .npz (positions under 'joints' or 'positions', optional 'joint_names' and 'fps' or
    'mocap_framerate') or a .npy (T, J, 3) array of SMPL / SMPL-X joints."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a readable joint array: {err}") from None
    if isinstance(data, np.ndarray):  # .npy
        positions, names = _names_for(path, data, None)
        return JointArrays(positions.astype(np.float64), names, None)
    with data:
        try:
            return _from_npz(path, data)
        except ValueError as err:  # e.g. an object array that would need pickle
            if str(path) in str(err):
                raise
            raise ValueError(f"{path}: {err}") from None


def _from_npz(path: Path, data: Any) -> JointArrays:
    """Positions, names and fps from an opened .npz."""
    key = next((k for k in POSITION_KEYS if k in data.files), None)
    if key is None:
        raise ValueError(f"{path}: no joint positions under {' or '.join(POSITION_KEYS)} "
                         f"(keys: {sorted(data.files)}); SMPL pose parameters need a body "
                         "model to become joints, run it first")
    names = data[NAMES_KEY] if NAMES_KEY in data.files else None
    positions, names = _names_for(path, np.asarray(data[key]), names)
    return JointArrays(positions.astype(np.float64), names, _fps(path, data))
