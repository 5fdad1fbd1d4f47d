"""The camera-frame translation recovered from 2D and 3D landmarks."""
import numpy as np
import pytest

from emotion_node.camera.placement import Intrinsics, camera_translation, focal_from_fov


def _project(world, t, f, c, fy=None):
    p = world + t
    fy = f if fy is None else fy
    return np.stack([f * p[:, 0] / p[:, 2] + c[0], fy * p[:, 1] / p[:, 2] + c[1]], axis=1)


def _pinhole(f, c):
    return Intrinsics(f, f, c[0], c[1])


def test_a_person_placed_where_they_were_projected_from():
    rng = np.random.default_rng(1)
    world = rng.normal(0, 0.4, (33, 3))  # a body-sized cloud around the hips
    f, c = focal_from_fov(768, 60.0), (384.0, 216.0)
    for t in ([0.3, 0.1, 2.6], [-1.2, 0.4, 6.0]):
        image = _project(world, np.array(t), f, c)
        got = camera_translation(image, world, np.ones(33), _pinhole(f, c))
        assert got is not None and np.allclose(got, t, atol=1e-6)


def test_pixel_noise_moves_the_fit_little():
    rng = np.random.default_rng(2)
    world = rng.normal(0, 0.4, (33, 3))
    f, c = focal_from_fov(768, 60.0), (384.0, 216.0)
    t = np.array([0.2, 0.0, 3.0])
    image = _project(world, t, f, c) + rng.normal(0, 2.0, (33, 2))  # 2 px noise
    got = camera_translation(image, world, np.ones(33), _pinhole(f, c))
    assert got is not None and np.abs(got - t).max() < 0.1


def test_too_few_visible_or_behind_the_camera_is_no_fit():
    world = np.random.default_rng(3).normal(0, 0.4, (33, 3))
    f, c = 600.0, (320.0, 240.0)
    image = _project(world, np.array([0.0, 0.0, 3.0]), f, c)
    few = np.zeros(33)
    few[:3] = 1.0
    assert camera_translation(image, world, few, _pinhole(f, c)) is None
    mirrored = c + (c - image)  # what a person behind the lens would project to
    assert camera_translation(mirrored, world, np.ones(33), _pinhole(f, c)) is None


@pytest.mark.parametrize('hfov', [0.0, 180.0, -5.0])
def test_field_of_view_outside_0_180_is_an_error(hfov):
    with pytest.raises(ValueError, match='field of view'):
        focal_from_fov(640, hfov)


def test_a_cameras_own_matrix_places_people_a_pinhole_guess_would_not():
    """Non-square pixels and an off-centre principal point, as a CameraInfo gives them."""
    rng = np.random.default_rng(4)
    world = rng.normal(0, 0.4, (33, 3))
    k = [610.0, 0.0, 300.0, 0.0, 640.0, 260.0, 0.0, 0.0, 1.0]
    camera = Intrinsics.from_matrix(k)
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (610.0, 640.0, 300.0, 260.0)
    t = np.array([0.5, -0.2, 4.0])
    image = _project(world, t, 610.0, (300.0, 260.0), fy=640.0)
    assert np.allclose(camera_translation(image, world, np.ones(33), camera), t, atol=1e-6)
    guess = camera_translation(image, world, np.ones(33), Intrinsics.from_fov(640, 480, 60.0))
    assert guess is not None and np.abs(guess - t).max() > 0.2  # the assumed view is off


@pytest.mark.parametrize('k', [[0.0] * 9, [600.0, 0, 320, 0, float('nan'), 240, 0, 0, 1],
                               [600.0, 0, 320]])
def test_what_is_not_a_camera_matrix_is_refused(k):
    with pytest.raises(ValueError, match='not a camera matrix'):
        Intrinsics.from_matrix(k)
