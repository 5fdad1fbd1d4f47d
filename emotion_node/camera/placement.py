"""Where a person stands in the camera frame, from one image.

The pose model's 3D landmarks are metres around the hip centre: walking through the room is
lost in them. With the 2D landmarks of the same person and a focal length, the translation T
that puts them in the camera frame is linear: for each landmark (X, Y, Z) seen at pixel (u, v),
fx (X + Tx) = (u - cx)(Z + Tz) and fy (Y + Ty) = (v - cy)(Z + Tz). Least squares over the
visible landmarks gives T; its depth inherits the model's idea of body size (about 10 % off for
people far from average) and the camera's intrinsics: the camera's own (its camera_info) where
it publishes them, else a pinhole with an assumed field of view.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

MIN_LANDMARKS = 4   # fewer visible ones leave the depth unconstrained
MIN_DEPTH_M = 0.2   # a solution behind or at the lens is a failed fit


def focal_from_fov(width_px: int, hfov_deg: float) -> float:
    """Focal length in pixels of a pinhole camera with this horizontal field of view."""
    if not 0.0 < hfov_deg < 180.0:
        raise ValueError(f'horizontal field of view must be in (0, 180) degrees, got {hfov_deg}')
    return (width_px / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera's focal lengths and principal point, in pixels."""

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_fov(cls, width_px: int, height_px: int, hfov_deg: float) -> 'Intrinsics':
        """Square pixels, the principal point at the image centre, this field of view."""
        f = focal_from_fov(width_px, hfov_deg)
        return cls(f, f, width_px / 2.0, height_px / 2.0)

    @classmethod
    def from_matrix(cls, k: Sequence[float]) -> 'Intrinsics':
        """From a row-major 3 x 3 camera matrix (sensor_msgs/CameraInfo.k); ValueError when it
        is not one of a pinhole camera."""
        m = np.asarray(k, dtype=np.float64)
        if m.shape != (9,) or not np.isfinite(m).all() or m[0] <= 0 or m[4] <= 0:
            raise ValueError(f'not a camera matrix (need 9 finite values, fx > 0, fy > 0): '
                             f'{list(m)[:9]}')
        return cls(float(m[0]), float(m[4]), float(m[2]), float(m[5]))


def camera_translation(image_xy: np.ndarray, world: np.ndarray, weights: np.ndarray,
                       camera: Intrinsics) -> Optional[np.ndarray]:
    """T (3,) with world + T in the camera optical frame; None where it cannot be fitted.

    image_xy (J, 2) pixels, world (J, 3) metres, weights (J,) >= 0 (visibility).
    """
    use = weights > 0.5
    if int(use.sum()) < MIN_LANDMARKS:
        return None
    du = image_xy[use, 0] - camera.cx  # (K,)
    dv = image_xy[use, 1] - camera.cy
    x, y, z = world[use, 0], world[use, 1], world[use, 2]
    w = np.sqrt(weights[use])
    k = len(du)
    a = np.zeros((2 * k, 3))
    a[:k, 0] = camera.fx
    a[:k, 2] = -du
    a[k:, 1] = camera.fy
    a[k:, 2] = -dv
    b = np.concatenate([du * z - camera.fx * x, dv * z - camera.fy * y])
    ww = np.concatenate([w, w])
    t, *_ = np.linalg.lstsq(a * ww[:, None], b * ww, rcond=None)
    if not np.all(np.isfinite(t)) or t[2] < MIN_DEPTH_M:
        return None
    return t
