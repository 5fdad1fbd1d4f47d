"""The real test video (people walking in and out of an office, one at a time) and its hand
annotations; tests that need them skip where the video is absent (tests/data/video/README.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

from emotion_node.camera.video import sample_video

DATA = Path(__file__).resolve().parents[1] / 'data' / 'video'


@pytest.fixture(scope='session')
def intervals():
    """The video's hand annotations: who is fully in view when, and when nobody is (the
    committed ones, which hold for a copy of the video placed elsewhere too)."""
    from emotion_node.camera.annotations import annotations_of, read_intervals
    return read_intervals(annotations_of(DATA / 'one-by-one-person-detection.mp4'))


@pytest.fixture(scope='session')
def video_path() -> Path:
    path = sample_video()  # $EMOTION_NODE_TEST_VIDEO, else the committed copy
    if not path.is_file():
        pytest.skip(f'test video absent: {path} (tests/data/video/README.md)')
    pytest.importorskip('cv2')
    return path


@pytest.fixture(scope='session')
def frames_at(video_path):
    """RGB frames at given seconds of the video (decoded once per session)."""
    from emotion_node.camera.video import VideoFrames
    cache: dict = {}

    def get(seconds: float):
        if seconds not in cache:
            frames = VideoFrames(video_path, start_s=seconds)
            cache[seconds] = next(frames)[1]
            frames.close()
        return cache[seconds]
    return get
