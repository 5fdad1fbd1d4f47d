"""Resampling, windowing and window normalisation."""

import numpy as np
import pytest

from emotion_node.skeleton.bvh import read_bvh_canonical
from emotion_node.skeleton.layouts import CANONICAL_JOINTS, layout_presence
from emotion_node.skeleton.preprocess import (
    PreprocessConfig, body_scale, clip_windows, normalize_window, preprocess_batch,
    preprocess_window, resample, stream_windows)

C = {n: i for i, n in enumerate(CANONICAL_JOINTS)}


@pytest.fixture(scope="module")
def walk_window(clip_path):
    pos, mask, fps = read_bvh_canonical(clip_path("walk-left", "sad"))
    windows, masks, _ = clip_windows(pos, mask, fps, PreprocessConfig())
    return windows[3].astype(np.float64), masks[3]


def _rot_z(deg):
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def test_config_round_trip_and_validation():
    cfg = PreprocessConfig(fps=10.0, window_frames=20, min_valid_joints=4)
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="bogus"):
        PreprocessConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="fps"):
        PreprocessConfig(fps=0.0)
    with pytest.raises(ValueError, match="body_scale"):
        PreprocessConfig(body_scale="height")
    assert PreprocessConfig.from_dict({"fps": 15.0}).body_scale == "limbs"  # older configs


def test_resample_exact_on_linear_motion_with_jitter():
    rng = np.random.default_rng(0)
    stamps = np.cumsum(rng.uniform(0.02, 0.06, size=80)) + 100.0  # non-uniform, jittery
    a, b = rng.normal(size=(21, 3)), rng.normal(size=(21, 3))
    pos = a + b * (stamps - 100.0)[:, None, None]
    mask = np.ones((80, 21), dtype=bool)
    out, omask, out_t = resample(stamps, pos, mask, fps=15.0, n_frames=30)
    assert out.shape == (30, 21, 3) and out.dtype == np.float32 and omask.shape == (30, 21)
    np.testing.assert_allclose(np.diff(out_t), 1 / 15.0)
    assert out_t[-1] == stamps[-1]
    assert omask.all()
    np.testing.assert_allclose(out, a + b * (out_t - 100.0)[:, None, None], atol=1e-5)


def test_resample_masking():
    stamps = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    pos = np.arange(5, dtype=float)[:, None, None] * np.ones((5, 2, 3))
    mask = np.ones((5, 2), dtype=bool)
    mask[2, 0] = False
    out, omask, out_t = resample(stamps, pos, mask, fps=20.0, n_frames=12)
    before = out_t < 0.0 - 1e-9
    assert before.sum() == 3 and not omask[before].any() and (out[before] == 0).all()
    near_gap = (out_t > 0.1 + 1e-9) & (out_t < 0.3 - 1e-9)
    assert not omask[near_gap, 0].any() and omask[near_gap, 1].all()
    exact = np.isclose(out_t, 0.1) | np.isclose(out_t, 0.3)
    assert omask[exact, 0].all()  # an exact hit on a valid sample needs no other neighbour
    np.testing.assert_allclose(out[np.isclose(out_t, 0.15), 1, 0], 1.5, atol=1e-5)
    out, omask, _ = resample(stamps, pos, mask, fps=10.0, n_frames=3, t_end=0.6)
    assert not omask[-1].any() and omask[0].all()  # no extrapolation past the last stamp


@pytest.mark.parametrize("stamps", [[0.0, 0.2, 0.1], [0.0, 0.1, 0.1]])
def test_resample_rejects_non_increasing_stamps(stamps):
    with pytest.raises(ValueError, match="increase"):
        resample(np.array(stamps), np.zeros((3, 21, 3)), np.ones((3, 21), bool), 15.0, 5)


def test_normalisation_invariances(walk_window):
    pos, mask = walk_window
    ref = normalize_window(pos, mask)
    moved = (pos @ _rot_z(73.0).T) * 1.37 + np.array([4.0, -2.5, 0.7])
    np.testing.assert_allclose(normalize_window(moved, mask), ref, atol=1e-4)
    assert ref.dtype == np.float32 and ref.shape == pos.shape


def test_normalised_window_faces_plus_x_and_is_centred(walk_window):
    pos, mask = walk_window
    x = normalize_window(pos @ _rot_z(-140.0).T, mask)
    left = (x[:, C["hip_l"]] - x[:, C["hip_r"]]).mean(0) + (
        x[:, C["shoulder_l"]] - x[:, C["shoulder_r"]]).mean(0)
    assert left[1] > 0 and abs(left[0]) < 0.05 * abs(left[1])
    np.testing.assert_allclose(x[:, C["pelvis"]].mean(0), 0.0, atol=1e-5)
    # Vertical structure is kept: head well above the pelvis, which bobs while walking.
    assert (x[:, C["head"], 2] - x[:, C["pelvis"], 2] > 0.5).all()
    assert x[:, C["pelvis"], 2].std() > 0.005


def test_scale_ignores_torso_posture(walk_window):
    pos, mask = walk_window
    slumped = pos.copy()
    slumped[:, [C["neck"], C["head"]], 2] -= 0.15
    assert body_scale(slumped, mask) == pytest.approx(body_scale(pos, mask))
    assert body_scale(pos * 2.0, mask) == pytest.approx(2 * body_scale(pos, mask))


def test_masked_joints_are_zero_and_root_fallback(walk_window):
    pos, mask = walk_window
    coco_like = mask & layout_presence("coco17")[None]
    x = normalize_window(pos, coco_like)
    assert (x[~coco_like] == 0).all() and np.abs(x[coco_like]).min() >= 0
    hips = (x[:, C["hip_l"]] + x[:, C["hip_r"]]) / 2  # mid-hips stands in for the pelvis
    np.testing.assert_allclose(hips.mean(0), 0.0, atol=1e-5)


def test_preprocess_window_validation_and_min_joints(walk_window):
    pos, mask = walk_window
    cfg = PreprocessConfig()
    with pytest.raises(ValueError, match="30, 21, 3"):
        preprocess_window(pos[:20], mask[:20], cfg)
    with pytest.raises(ValueError, match="mask"):
        preprocess_window(pos, mask[:, :20], cfg)
    sparse = mask.copy()
    sparse[5] = False
    sparse[5, :3] = True  # 3 < min_valid_joints: the whole frame is dropped
    x, m = preprocess_window(pos, sparse, cfg)
    assert not m[5].any() and (x[5] == 0).all() and m[6].all()


def test_batch_equals_single(walk_window):
    pos, mask = walk_window
    batch = np.stack([pos, pos @ _rot_z(30).T])
    masks = np.stack([mask, mask])
    x, m = preprocess_batch(batch, masks, PreprocessConfig())
    x0, m0 = preprocess_window(pos, mask, PreprocessConfig())
    np.testing.assert_array_equal(x[0], x0)
    np.testing.assert_allclose(x[1], x0, atol=1e-4)
    assert m.shape == (2, 30, 21)


def test_stature_scale_does_not_depend_on_which_limbs_are_seen(walk_window):
    pos, mask = walk_window
    legs_hidden = mask.copy()
    legs_hidden[:, [C[f"{j}_{s}"] for j in ("knee", "ankle", "toe") for s in "lr"]] = False
    limbs = body_scale(pos, legs_hidden) / body_scale(pos, mask)
    stature = body_scale(pos, legs_hidden, "stature") / body_scale(pos, mask, "stature")
    # The limb median shrinks by a quarter with the legs out of view (arms are shorter); the
    # stature estimate moves by under a tenth (this skeleton's arms are a little shorter than
    # the anthropometric table's).
    assert limbs < 0.8 and abs(stature - 1.0) < 0.1
    assert body_scale(pos * 2.0, mask, "stature") == pytest.approx(
        2 * body_scale(pos, mask, "stature"))
    x_all = preprocess_window(pos, mask, PreprocessConfig(body_scale="stature"))[0]
    x_up = preprocess_window(pos, legs_hidden, PreprocessConfig(body_scale="stature"))[0]
    upper = legs_hidden[0]
    gap = np.abs(x_up[:, upper] - x_all[:, upper]).max()
    x_limbs = preprocess_window(pos, legs_hidden, PreprocessConfig())[0]
    assert gap < 0.5 * np.abs(x_limbs[:, upper] - preprocess_window(
        pos, mask, PreprocessConfig())[0][:, upper]).max()


def test_stream_windows_are_clip_windows_for_even_stamps():
    cfg = PreprocessConfig()
    n = 200
    t = np.arange(n) / 30.0
    pos = np.zeros((n, 21, 3), np.float32) + t[:, None, None].astype(np.float32)
    mask = np.ones((n, 21), bool)
    a = clip_windows(pos, mask, 30.0, cfg)
    b = stream_windows(t + 100.0, pos, mask, cfg)  # stamps need not start at zero
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=1e-6)
    uneven = t + np.random.default_rng(0).uniform(-0.005, 0.005, n)  # a tracker's timing
    uneven[0] = 0.0
    w, m, ends = stream_windows(uneven, pos + (uneven - t)[:, None, None], mask, cfg)
    np.testing.assert_allclose(w[:, -1, 0, 0], ends, atol=1e-4)  # value = its stamp


def test_clip_windows_long_and_short():
    cfg = PreprocessConfig(fps=15.0, window_frames=30)
    n = 300  # 10 s at 30 fps
    t = np.arange(n) / 30.0
    pos = np.zeros((n, 21, 3), np.float32) + t[:, None, None].astype(np.float32)
    mask = np.ones((n, 21), bool)
    w, m, ends = clip_windows(pos, mask, 30.0, cfg, stride_s=0.5)
    assert w.shape[1:] == (30, 21, 3) and m.all()
    assert len(w) == (int(t[-1] * 15) + 1 - 30) // 8 + 1
    np.testing.assert_allclose(np.diff(ends), 8 / 15.0)
    np.testing.assert_allclose(w[:, -1, 0, 0], ends, atol=1e-5)  # value = time stamp
    w, m, ends = clip_windows(pos[:45], mask[:45], 30.0, cfg)  # 1.5 s < 2 s window
    assert w.shape == (1, 30, 21, 3) and ends[0] == pytest.approx(44 / 30.0)
    assert not m[0, :7].any() and m[0, 7:].all()  # padded at the start
    assert (w[0, :7] == 0).all()


def _reference_normalize(positions, mask):
    """The per-window normalisation written out plainly, frame set by frame set: the batched
    code must give the same numbers."""
    from emotion_node.skeleton.preprocess import _LR_PAIRS, SCALE_BONES
    from emotion_node.skeleton.layouts import CANONICAL_INDEX as I

    pos = np.where(mask[..., None], positions.astype(np.float64), 0.0)
    root = None
    for names in (("pelvis",), ("hip_l", "hip_r"), ("shoulder_l", "shoulder_r")):
        idx = [I[n] for n in names]
        ok = mask[:, idx].all(axis=1)
        if ok.any():
            root = pos[ok][:, idx].mean(axis=(0, 1))
            break
    if root is None and mask.any():
        root = pos[mask].mean(axis=0)
    if root is not None:
        pos = pos - root
    total = np.zeros(2)
    for left, right in _LR_PAIRS:
        ok = mask[:, left] & mask[:, right]
        lr = pos[ok, left, :2] - pos[ok, right, :2]
        total += (lr / np.maximum(np.linalg.norm(lr, axis=-1, keepdims=True), 1e-9)).sum(0)
    if np.linalg.norm(total) >= 1e-6:
        yaw = np.arctan2(total[1], total[0]) - np.pi / 2
        c, s = np.cos(-yaw), np.sin(-yaw)
        pos = pos @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T
    lengths = [np.linalg.norm(pos[mask[:, a] & mask[:, b], a] - pos[mask[:, a] & mask[:, b], b],
                              axis=-1) for a, b in SCALE_BONES]
    lengths = np.concatenate(lengths)
    if lengths.size and np.median(lengths) > 1e-6:
        pos = pos / np.median(lengths)
    return np.where(mask[..., None], pos, 0.0).astype(np.float32)


def test_batched_preprocessing_equals_the_per_window_definition():
    cfg = PreprocessConfig()
    rng = np.random.default_rng(7)
    b, t = 12, cfg.window_frames
    pos = rng.normal(size=(b, t, 21, 3)).astype(np.float32) * 0.3
    mask = rng.random((b, t, 21)) > 0.15
    mask[1, :, :] = False                      # nobody there
    mask[2][:, [0, 1, 2, 3, 4, 5, 6]] = False   # no torso: other roots or visible mean
    mask[3, ::2] = False                        # every other frame missing
    pos[4, 3, 5] = np.nan                       # a NaN joint is dropped, not propagated
    mask[5, :, 10:] = False                     # few joints: frames fall under the minimum
    x, m = preprocess_batch(pos, mask, cfg)
    assert np.isfinite(x).all() and not m[1].any() and not m[4, 3, 5]
    for i in range(b):
        want_mask = mask[i] & np.isfinite(pos[i]).all(-1)
        want_mask &= want_mask.sum(1, keepdims=True) >= cfg.min_valid_joints
        np.testing.assert_array_equal(m[i], want_mask)
        np.testing.assert_allclose(x[i], _reference_normalize(pos[i], want_mask), atol=1e-6)
        single = preprocess_window(pos[i], mask[i], cfg)
        np.testing.assert_array_equal(single[0], x[i])
    empty = preprocess_batch(np.zeros((0, t, 21, 3)), np.zeros((0, t, 21), bool), cfg)
    assert empty[0].shape == (0, t, 21, 3)
