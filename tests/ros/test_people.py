"""Per-person ring buffers: warm-up, resampling by stamps, lost then removed, bounded memory."""
import math

import numpy as np
import pytest

from emotion_node.ros.people import (
    LOST, OK, STAMP_BACKWARDS, TOO_MANY_PERSONS, WARMING_UP, People, PersonTrack, windows)
from emotion_node.skeleton.preprocess import PreprocessConfig, resample

CFG = PreprocessConfig(fps=15.0, window_frames=30)


def pose(t: float) -> np.ndarray:
    """A (21, 3) pose whose x follows the time (so resampling is checkable)."""
    out = np.zeros((21, 3), np.float32)
    out[:, 0] = t
    out[:, 2] = np.linspace(0.0, 1.7, 21)
    return out


def feed(track: PersonTrack, start: float, seconds: float, hz: float, now: float = 0.0) -> None:
    for i in range(int(round(seconds * hz))):
        assert track.add(start + i / hz, pose(start + i / hz), np.ones(21, bool), 'cam', now) \
            is None


def test_window_is_resampled_by_stamps_and_padded_at_the_start():
    track = PersonTrack('1', 256, 4.0)
    feed(track, 100.0, 1.0, 30.0)  # 1 s of 30 Hz input
    window = track.window(CFG)
    assert window.positions.shape == (30, 21, 3) and window.mask.shape == (30, 21)
    assert window.valid_frames == 15  # 1 s at the model's 15 fps (frames from 100.0 to 100.967)
    assert not window.mask[:15].any()  # warm-up padding at the start is masked
    ends = window.stamps[window.mask.any(axis=1)]
    np.testing.assert_allclose(window.positions[window.mask.any(axis=1)][:, 0, 0], ends,
                               atol=1e-4)  # x equals the stamp: interpolated at model stamps
    assert window.stamps[-1] == pytest.approx(100.0 + 29 / 30)


def test_irregular_input_rate_gives_the_same_window_length():
    track = PersonTrack('1', 256, 4.0)
    rng = np.random.default_rng(0)
    t = 50.0
    for _ in range(200):
        t += rng.uniform(0.01, 0.06)
        track.add(t, pose(t), np.ones(21, bool), 'cam', 0.0)
    window = track.window(CFG)
    assert window.valid_frames == 30
    np.testing.assert_allclose(np.diff(window.stamps), 1 / 15)


def test_people_resampled_together_match_one_by_one():
    rng = np.random.default_rng(1)
    tracks = [PersonTrack(str(k), 256, 4.0) for k in range(4)]
    for i in range(80):
        t = 5.0 + i / 30
        for k, track in enumerate(tracks):
            if k == 3 and i % 3 == 0:
                continue  # a person seen in fewer frames: another stamp group
            mask = rng.random(21) > 0.2
            track.add(t, rng.standard_normal((21, 3)).astype(np.float32), mask, 'cam', 0.0)
    together = windows(tracks, CFG)
    for track, joint in zip(tracks, together):
        alone = track.window(CFG)
        np.testing.assert_array_equal(joint.positions, alone.positions)
        np.testing.assert_array_equal(joint.mask, alone.mask)
        np.testing.assert_array_equal(joint.stamps, alone.stamps)
        assert joint.valid_frames == alone.valid_frames
    assert windows([PersonTrack('empty', 8, 1.0)], CFG) == [None]


def test_window_uses_only_the_frames_it_needs_with_the_same_result():
    track = PersonTrack('1', 256, 4.0)
    rng = np.random.default_rng(2)
    t = 0.0
    for _ in range(150):
        t += rng.uniform(0.02, 0.045)
        track.add(t, rng.standard_normal((21, 3)).astype(np.float32), rng.random(21) > 0.1,
                  'cam', 0.0)
    stamps, positions, mask = track.samples()  # the whole buffer (4 s)
    full = resample(stamps, positions, mask, CFG.fps, CFG.window_frames)
    short = track.samples((CFG.window_frames - 1) / CFG.fps)
    assert len(short[0]) < len(stamps) / 1.5 and short[0][0] < stamps[-1] - 29 / 15
    window = track.window(CFG)
    for a, b in zip(full, (window.positions, window.mask, window.stamps)):
        np.testing.assert_array_equal(a, b)


def add(track, stamp, max_gap_s=math.inf):
    return track.add(stamp, pose(stamp), np.ones(21, bool), 'cam', 0.0, max_gap_s)


def test_stamps_going_back_are_rejected_but_a_lasting_jump_back_restarts():
    track = PersonTrack('1', 64, 4.0)
    feed(track, 10.0, 1.0, 30.0)
    assert add(track, 10.5) == STAMP_BACKWARDS
    assert add(track, track.newest_stamp) == STAMP_BACKWARDS  # a repeat is not new data
    held = track.count
    # A bag loop: every frame from now on is far behind; the third in a row restarts.
    assert [add(track, 1.0 + i / 30) for i in range(3)] == [STAMP_BACKWARDS] * 2 + [None]
    assert track.count == 1 and track.newest_stamp == 1.0 + 2 / 30 and held > 1
    assert track.restarts_back == 1 and track.restarts_forward == 0
    feed(track, 1.1, 0.5, 30.0)
    assert track.count > 10  # the new recording fills the window again


def test_stray_old_frames_never_wipe_the_window():
    track = PersonTrack('1', 256, 4.0)
    rejected = []
    for i in range(300):  # 10 s at 30 Hz, a frame from 5 s ago about once a second
        rejected.append(add(track, 100.0 + i / 30))
        if i % 31 == 5:
            rejected.append(add(track, 95.0 + i / 30))
        if i == 200:  # two strays in a row, out of order among themselves
            rejected += [add(track, 98.0), add(track, 97.0)]
    assert rejected.count(STAMP_BACKWARDS) == 12 and track.restarts_back == 0
    stamps, _, _ = track.samples()
    assert len(stamps) == 121 and np.all(np.diff(stamps) > 0)  # 4 s of 30 Hz: never restarted


def test_a_jump_forward_beyond_the_gap_allowed_starts_a_fresh_window():
    track = PersonTrack('1', 64, 4.0)
    for i in range(30):
        assert add(track, 10.0 + i / 30, max_gap_s=1.0) is None
    assert add(track, 11.9, max_gap_s=1.0) is None and track.count == 31  # within the gap
    assert add(track, 13.5, max_gap_s=1.0) is None  # 1.6 s unseen: nothing to interpolate
    assert track.count == 1 and track.restarts_forward == 1


def test_people_count_restarts_with_the_lost_timeout_as_the_gap():
    people = People(4, 4.0, lost_timeout_s=0.5)
    for t in (10.0, 10.1, 10.2, 11.0):  # 0.8 s without a frame, beyond the timeout
        assert people.add('1', t, pose(t), np.ones(21, bool), 'cam', t) is None
    for t in (1.0, 1.1, 1.2):
        people.add('1', t, pose(t), np.ones(21, bool), 'cam', 11.1)
    assert (people.restarts_forward, people.restarts_back) == (1, 1)


def test_ring_buffer_keeps_only_its_capacity_and_length():
    track = PersonTrack('1', 64, 2.0)
    feed(track, 0.0, 20.0, 30.0)
    assert track.count == 64
    stamps, positions, mask = track.samples()
    assert stamps[-1] - stamps[0] <= 2.0 and np.all(np.diff(stamps) > 0)
    assert positions.shape == (len(stamps), 21, 3) and mask.shape == (len(stamps), 21)


def test_head_position_for_labels():
    track = PersonTrack('1', 8, 1.0)
    assert track.head() is None
    mask = np.ones(21, bool)
    mask[4] = False  # no head: fall back to the neck
    track.add(0.0, pose(0.0), mask, 'cam', 0.0)
    np.testing.assert_allclose(track.head(), pose(0.0)[3])


def test_people_are_bounded_whatever_ids_arrive():
    people = People(max_persons=3, length_s=2.0, lost_timeout_s=1.0)
    reasons = [people.add(str(i), 1.0, pose(1.0), np.ones(21, bool), 'cam', 0.0)
               for i in range(1000)]
    assert len(people) == 3
    assert reasons[:3] == [None] * 3 and set(reasons[3:]) == {TOO_MANY_PERSONS}
    assert all(t._stamps.shape[0] == people.capacity for t in people.tracks.values())


def test_lost_after_timeout_then_removed():
    people = People(max_persons=4, length_s=2.0, lost_timeout_s=1.0)
    people.add('a', 1.0, pose(1.0), np.ones(21, bool), 'cam', now=0.0)
    people.add('b', 1.0, pose(1.0), np.ones(21, bool), 'cam', now=0.0)
    assert people.sweep(0.5) == [] and people.tracks['a'].status == WARMING_UP
    people.add('b', 2.0, pose(2.0), np.ones(21, bool), 'cam', now=1.0)
    assert people.sweep(1.5) == []
    assert people.tracks['a'].status == LOST and people.tracks['b'].status != LOST
    assert people.sweep(1.6) == ['a']  # reported lost once, then removed
    assert set(people.tracks) == {'b'}


def test_seen_again_before_removal_is_not_lost():
    people = People(max_persons=2, length_s=2.0, lost_timeout_s=1.0)
    people.add('a', 1.0, pose(1.0), np.ones(21, bool), 'cam', now=0.0)
    people.sweep(2.0)
    assert people.tracks['a'].status == LOST
    people.add('a', 3.0, pose(3.0), np.ones(21, bool), 'cam', now=2.1)
    assert people.sweep(2.2) == [] and people.tracks['a'].status != LOST


def test_status_constants_match_the_message():
    from emotion_node.msg import PersonEmotion
    assert (WARMING_UP, OK, LOST) == (PersonEmotion.STATUS_WARMING_UP, PersonEmotion.STATUS_OK,
                                      PersonEmotion.STATUS_LOST)
