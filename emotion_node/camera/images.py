"""Raw image fields (as sensor_msgs/Image carries them) -> an RGB array, or a reason to drop.

Numpy only, so the node, the tests and the benchmark read images the same way. Every frame
that cannot be read raises `ImageRejected` with one of `REASONS`, which the node counts.
"""
from __future__ import annotations

import numpy as np

# encoding -> (channels, the channel order to take for R, G, B)
ENCODINGS: dict[str, tuple[int, tuple[int, int, int]]] = {
    'rgb8': (3, (0, 1, 2)), 'bgr8': (3, (2, 1, 0)),
    'rgba8': (4, (0, 1, 2)), 'bgra8': (4, (2, 1, 0)),
    'mono8': (1, (0, 0, 0)),
}
MIN_SIDE = 32  # pixels; the pose detector's input is 224 x 224, a smaller frame holds no one
REASONS = ('empty', 'encoding', 'size', 'too_small')


class ImageRejected(ValueError):
    """A frame that cannot be read; `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def to_rgb(encoding: str, width: int, height: int, step: int, data: bytes) -> np.ndarray:
    """The image as (height, width, 3) uint8 RGB; raises ImageRejected."""
    if width == 0 or height == 0 or len(data) == 0:
        raise ImageRejected('empty', f'empty image ({width} x {height}, {len(data)} bytes)')
    if encoding not in ENCODINGS:
        raise ImageRejected('encoding', f'unsupported encoding {encoding!r}; supported: '
                                        f'{sorted(ENCODINGS)}')
    channels, order = ENCODINGS[encoding]
    if step < width * channels or len(data) < step * height:
        raise ImageRejected('size', f'{encoding} {width} x {height} needs step >= '
                                    f'{width * channels} and {step * height} bytes; got step '
                                    f'{step} and {len(data)} bytes')
    if min(width, height) < MIN_SIDE:
        raise ImageRejected('too_small', f'image {width} x {height} is under {MIN_SIDE} px')
    rows = np.frombuffer(data, np.uint8, count=step * height).reshape(height, step)
    pixels = rows[:, :width * channels].reshape(height, width, channels)
    return np.ascontiguousarray(pixels[:, :, list(order)])
