"""Kinematic cues: synthetic exactness, masking and sanity on real clips."""

import numpy as np
import pytest

from emotion_node.skeleton.bvh import read_bvh_canonical
from emotion_node.skeleton.cues import (
    CUE_DESCRIPTIONS, CUE_NAMES, CUE_UNITS, body_height, cues_batch, kinematic_cues)
from emotion_node.skeleton.layouts import CANONICAL_JOINTS, layout_presence
from emotion_node.skeleton.preprocess import PreprocessConfig, clip_windows

C = {n: i for i, n in enumerate(CANONICAL_JOINTS)}
CFG = PreprocessConfig()
CONTENTS = ("walk", "walk-back", "walk-left", "walk-right", "dash", "bow", "bye", "byebye")


def _standing(clip_path):
    pos, mask, _ = read_bvh_canonical(clip_path("bow", "normal"))
    return pos[0].astype(np.float64), mask[0]


def test_tables_cover_every_cue():
    assert len(CUE_NAMES) == 7 and set(CUE_UNITS) == set(CUE_NAMES) == set(CUE_DESCRIPTIONS)


def test_synthetic_speed_bounce_tempo_and_pitch(clip_path):
    frame, fmask = _standing(clip_path)
    fps, n = 15.0, 30
    t = np.arange(n) / fps
    # Face +X (left-right vector along +Y) so translation along +X is forward motion.
    frame = frame - frame[C["pelvis"]] * [1, 1, 0]
    pos = np.repeat(frame[None], n, 0)
    pos[..., 0] += 1.2 * t[:, None]                              # 1.2 m/s forward
    pos[..., 2] += 0.02 * np.sin(2 * np.pi * 2.0 * t)[:, None]   # 2 Hz bob
    mask = np.repeat(fmask[None], n, 0)
    cues = kinematic_cues(pos, mask, fps)
    height = body_height(pos, mask)
    assert 1.4 < height < 2.0
    assert cues["speed"] == pytest.approx(1.2 / height, rel=0.02)
    assert cues["tempo"] == pytest.approx(2.0, abs=0.15)
    assert cues["bounce"] == pytest.approx(0.02 / np.sqrt(2) / height, rel=0.1)
    assert cues["arm_swing"] == pytest.approx(0.0, abs=1e-6)  # rigid body: no arm motion
    still = kinematic_cues(np.repeat(frame[None], n, 0), mask, fps)
    assert still["tempo"] == 0.0 and still["speed"] == pytest.approx(0.0, abs=1e-9)
    # Tilt the head 40 degrees towards where the hips face (left-right vector turned -90).
    bent = pos.copy()
    lr = frame[C["hip_l"], :2] - frame[C["hip_r"], :2]
    fwd = np.array([lr[1], -lr[0]]) / np.linalg.norm(lr)
    r = np.linalg.norm(frame[C["head"]] - frame[C["neck"]])
    tilt = np.radians(40)
    bent[:, C["head"]] = bent[:, C["neck"]] + r * np.array([*(np.sin(tilt) * fwd), np.cos(tilt)])
    assert kinematic_cues(bent, mask, fps)["head_pitch"] == pytest.approx(40.0, abs=0.5)


def test_missing_joints_give_nan_not_garbage(clip_path):
    frame, fmask = _standing(clip_path)
    pos = np.repeat(frame[None], 30, 0)
    coco = np.repeat((fmask & layout_presence("coco17"))[None], 30, 0)
    cues = kinematic_cues(pos, coco, 15.0)
    assert np.isnan(cues["head_pitch"])  # COCO has no neck
    assert np.isfinite(cues["speed"]) and np.isfinite(cues["expansion"])  # mid-hips root
    none = kinematic_cues(pos, np.zeros_like(coco), 15.0)
    assert all(np.isnan(v) for v in none.values())


def _mean_cues(clip_path, content, style):
    pos, mask, fps = read_bvh_canonical(clip_path(content, style))
    windows, masks, _ = clip_windows(pos, mask, fps, CFG)
    cues = cues_batch(windows, masks, CFG.fps)
    # A clip shorter than a window may lack tempo (under half its frames are real).
    return np.array([np.nanmean(col) if np.isfinite(col).any() else np.nan for col in cues.T])


@pytest.fixture(scope="module")
def real_cues(clip_path):
    styles = ("normal", "happy", "sad", "proud", "tired")
    return {(c, s): dict(zip(CUE_NAMES, _mean_cues(clip_path, c, s)))
            for c in CONTENTS for s in styles}


def test_dash_faster_than_walk(real_cues):
    for style in ("normal", "happy", "sad", "proud", "tired"):
        assert real_cues[("dash", style)]["speed"] > real_cues[("walk", style)]["speed"]
    assert 0.4 < real_cues[("walk", "normal")]["speed"] < 1.2  # ~0.7-2 m/s in body heights
    assert 1.5 < real_cues[("walk", "normal")]["tempo"] < 2.5  # usual step rate


def test_low_moods_hold_the_head_lower(real_cues):
    def mean_pitch(styles):
        return np.mean([real_cues[(c, s)]["head_pitch"] for c in CONTENTS for s in styles])
    low, high = mean_pitch(("sad", "tired")), mean_pitch(("happy", "proud"))
    assert low > high + 10.0, (low, high)
    assert real_cues[("bow", "normal")]["speed"] < real_cues[("walk", "normal")]["speed"]


def test_a_root_locked_recording_shows_no_travel(clip_path):
    """Speed through the room needs the path through it: a root-locked recording's travel
    cues are nan (never a claim), the others as measured."""
    from emotion_node.skeleton.cues import TRAVEL_CUES, span_cues_batch

    pos, mask, fps = read_bvh_canonical(clip_path("walk", "happy"))
    windows, masks, _ = clip_windows(pos, mask, fps, CFG)
    free = span_cues_batch(windows[:2], masks[:2], CFG.fps)
    locked = span_cues_batch(windows[:2], masks[:2], CFG.fps, root_locked=True)
    travel = [CUE_NAMES.index(n) for n in TRAVEL_CUES]
    assert TRAVEL_CUES == ("speed",) and np.isfinite(free[..., travel]).all()
    assert np.isnan(locked[..., travel]).all()
    rest = [i for i in range(len(CUE_NAMES)) if i not in travel]
    np.testing.assert_array_equal(locked[..., rest], free[..., rest])
