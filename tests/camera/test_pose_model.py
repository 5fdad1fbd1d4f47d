"""The pose model from the files the mediapipe wheel ships, on frames of the real video."""
import zipfile

import numpy as np
import pytest

pytest.importorskip('mediapipe')

from emotion_node.camera.pipeline import CameraConfig, CameraPipeline  # noqa: E402
from emotion_node.camera.pose_model import (  # noqa: E402
    BUNDLE_MEMBERS, PoseConfig, PoseEstimator, task_bundle)

NOSE, L_ANKLE, R_ANKLE, L_HIP, R_HIP = 0, 27, 28, 23, 24


@pytest.fixture(scope='module')
def bundle(tmp_path_factory):
    return task_bundle(tmp_path_factory.mktemp('pose'))


def test_the_bundle_is_built_once_from_the_shipped_models(bundle):
    with zipfile.ZipFile(bundle) as z:
        assert sorted(z.namelist()) == sorted(BUNDLE_MEMBERS)
    mtime = bundle.stat().st_mtime_ns
    assert task_bundle(bundle.parent) == bundle and bundle.stat().st_mtime_ns == mtime


def test_a_walker_is_found_with_a_body_sized_3d_skeleton(bundle, frames_at):
    estimator = PoseEstimator(PoseConfig(num_poses=2), bundle)
    try:
        poses = estimator.estimate(frames_at(12.0), 0)
    finally:
        estimator.close()
    assert len(poses) == 1
    pose = poses[0]
    assert pose.world.shape == (33, 3) and pose.image_xy.shape == (33, 2)
    hips = pose.world[[L_HIP, R_HIP]].mean(axis=0)
    assert np.linalg.norm(hips) < 0.1  # metres around the hip centre
    height = np.mean(pose.world[[L_ANKLE, R_ANKLE], 1]) - pose.world[NOSE, 1]  # y down
    assert 1.2 < height < 2.0, height
    # In the image the person stands in the middle third (frame 120: hand-checked)
    assert 250 < pose.image_xy[[L_HIP, R_HIP], 0].mean() < 550


def test_an_empty_room_gives_nobody_and_two_people_two_ids(bundle, frames_at):
    pipeline = CameraPipeline(CameraConfig(), PoseEstimator(PoseConfig(), bundle))
    try:
        assert pipeline.process(frames_at(3.0), 3.0) == []
        # Two real walkers side by side: the middle of frames 12 s and 30 s, one after the
        # other in the video (it has one person at a time)
        ids = []
        for k in range(5):
            t = 40.0 + k / 10
            pair = np.hstack([frames_at(12.0 + k / 10)[:, 200:584],
                              frames_at(30.0 + k / 10)[:, 200:584]])
            people = pipeline.process(np.ascontiguousarray(pair), t)
            ids.append(sorted(p.body_id for p in people))
            assert all(p.placed and p.positions[23:25, 2].mean() > 1.0 for p in people)
        assert len(ids[0]) == 2 and all(i == ids[0] for i in ids), ids
    finally:
        pipeline.close()


def test_a_wrong_image_is_a_clear_error(bundle):
    estimator = PoseEstimator(PoseConfig(num_poses=1), bundle)
    try:
        with pytest.raises(ValueError, match='RGB image'):
            estimator.estimate(np.zeros((64, 64), np.uint8), 0)
    finally:
        estimator.close()
