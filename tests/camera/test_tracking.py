"""Ids across frames: kept while boxes overlap, new after a person is gone long enough."""
import numpy as np

from emotion_node.camera.annotations import Interval, score
from emotion_node.camera.tracking import PersonTracker, box_of, iou


def _box(x, y=0.0, w=100.0, h=300.0):
    return np.array([x, y, x + w, y + h])


def test_two_walkers_keep_their_ids_whatever_order_they_come_in():
    tracker = PersonTracker()
    first = tracker.assign([_box(0), _box(400)])
    ids = [first]
    for step in range(1, 20):  # each walks 10 px a frame, reported in alternating order
        boxes = [_box(10 * step), _box(400 - 10 * step)]
        got = tracker.assign(boxes if step % 2 else boxes[::-1])
        ids.append(got if step % 2 else got[::-1])
    assert all(i == first for i in ids) and first[0] != first[1]


def test_an_id_survives_a_short_gap_and_not_a_long_one():
    tracker = PersonTracker(max_missed=2)
    (a,) = tracker.assign([_box(0)])
    tracker.assign([])
    tracker.assign([])
    assert tracker.assign([_box(5)]) == [a]       # gone two frames: the same person
    for _ in range(3):
        tracker.assign([])
    assert tracker.assign([_box(5)]) != [a]       # gone three: someone new
    assert tracker.active == 1


def test_box_of_visible_landmarks_and_overlap():
    xy = np.array([[0, 0], [10, 20], [500, 500]], np.float32)
    assert list(box_of(xy, np.array([1.0, 1.0, 0.0]))) == [0, 0, 10, 20]
    assert iou(_box(0), _box(0)) == 1.0 and iou(_box(0), _box(200)) == 0.0


def test_scores_count_followed_frames_and_false_people():
    intervals = [Interval('1', 0, 0), Interval('empty', 1, 1)]
    frames = [(0.0, ['a']), (0.5, ['a']), (0.8, ['b']), (0.9, []), (1.0, []), (1.5, ['x'])]
    scores, false_share = score(frames, intervals)
    assert (scores['1'].frames, scores['1'].followed, scores['1'].main_id) == (4, 2, 'a')
    assert scores['1'].ids == ('a', 'b') and false_share == 0.5
