"""Where a person stands in the camera frame, from one image.

The pose model's 3D landmarks are metres around the hip centre: walking through the room is
lost in them. With the 2D landmarks of the same person and a focal length, the translation T
that puts them in the camera frame is linear: for each landmark (X, Y, Z) seen at pixel (u, v),
f (X + Tx) = (u - cx)(Z + Tz) and f (Y + Ty) = (v - cy)(Z + Tz). Least squares over the visible
landmarks gives T; its depth inherits the model's idea of body size (about 10 % off for people
far from average) and the assumed field of view.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

MIN_LANDMARKS = 4   # fewer visible ones leave the depth unconstrained
MIN_DEPTH_M = 0.2   # a solution behind or at the lens is a failed fit


def focal_from_fov(width_px: int, hfov_deg: float) -> float:
    """Focal length in pixels of a pinhole camera with this horizontal field of view."""
    if not 0.0 < hfov_deg < 180.0:
        raise ValueError(f'horizontal field of view must be in (0, 180) degrees, got {hfov_deg}')
    return (width_px / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)


def camera_translation(image_xy: np.ndarray, world: np.ndarray, weights: np.ndarray,
                       focal_px: float, center: tuple[float, float]) -> Optional[np.ndarray]:
    """T (3,) with world + T in the camera optical frame; None where it cannot be fitted.

    image_xy (J, 2) pixels, world (J, 3) metres, weights (J,) >= 0 (visibility).
    """
    use = weights > 0.5
    if int(use.sum()) < MIN_LANDMARKS:
        return None
    du = image_xy[use, 0] - center[0]  # (K,)
    dv = image_xy[use, 1] - center[1]
    x, y, z = world[use, 0], world[use, 1], world[use, 2]
    w = np.sqrt(weights[use])
    k = len(du)
    a = np.zeros((2 * k, 3))
    a[:k, 0] = focal_px
    a[:k, 2] = -du
    a[k:, 1] = focal_px
    a[k:, 2] = -dv
    b = np.concatenate([du * z - focal_px * x, dv * z - focal_px * y])
    ww = np.concatenate([w, w])
    t, *_ = np.linalg.lstsq(a * ww[:, None], b * ww, rcond=None)
    if not np.all(np.isfinite(t)) or t[2] < MIN_DEPTH_M:
        return None
    return t
