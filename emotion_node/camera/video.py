"""Frames of a video file, with their times in the video, as RGB arrays (OpenCV decodes)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Tuple

import numpy as np

from emotion_node.package_files import SOURCE_ROOT

SAMPLE_VIDEO_ENV = 'EMOTION_NODE_TEST_VIDEO'


def sample_video() -> Path:
    """The project's real video of people (tests/data/video/README.md: CC BY 4.0, with hand
    annotations beside it): $EMOTION_NODE_TEST_VIDEO, else the copy in the source tree."""
    return Path(os.environ.get(SAMPLE_VIDEO_ENV) or SOURCE_ROOT / 'tests' / 'data' / 'video' /
                'one-by-one-person-detection.mp4')


class VideoFrames:
    """Iterate (seconds into the video, RGB (H, W, 3) uint8) from start_s to end_s (0: end)."""

    def __init__(self, path: Path, start_s: float = 0.0, end_s: float = 0.0) -> None:
        import cv2
        if not Path(path).is_file():
            raise FileNotFoundError(f'video file not found: {path}')
        if start_s < 0 or end_s < 0 or (end_s and end_s <= start_s):
            raise ValueError(f'video segment must have 0 <= start < end (end 0: to the end); '
                             f'got start {start_s} s, end {end_s} s')
        self._cv2 = cv2
        self._capture: Any = cv2.VideoCapture(str(path))
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if not self._capture.isOpened() or self.fps <= 0:
            self._capture.release()
            raise ValueError(f'{path}: not a video OpenCV can read (no frame rate)')
        self.path, self.start_s, self.end_s = Path(path), start_s, end_s
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self._index = int(round(start_s * self.fps))
        if self._index:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, self._index)

    def __iter__(self) -> Iterator[Tuple[float, np.ndarray]]:
        return self

    def __next__(self) -> Tuple[float, np.ndarray]:
        t = self._index / self.fps
        if self.end_s and t >= self.end_s:
            raise StopIteration
        ok, bgr = self._capture.read()
        if not ok:
            raise StopIteration
        self._index += 1
        return t, self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        """Release the file."""
        self._capture.release()
