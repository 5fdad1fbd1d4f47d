"""ROS4HRI bodies in, in this process: tracked ids and TF frames to canonical bodies.

Messages are built the way `emotion-node bag --input hri` writes them (rosbags types from the
stand-in definitions, no build needed); the node over DDS is tested in test_trackers.py.
"""
from __future__ import annotations

from typing import Any, List

import numpy as np
import pytest

from emotion_node.ros.adapters import hri
from emotion_node.ros.adapters.hri import HriBodies, HriSettings
from emotion_node.ros.bag_io import load_tracks, rosbags_factory
from emotion_node.ros.convert import (
    DUPLICATE_BODY_ID, MISSING_BODY_ID, TOO_MANY_BODIES, BodyFrame, InputBatch)
from emotion_node.ros.inputs import HriReader, make_reader
from emotion_node.ros.params import NodeParams
from emotion_node.ros.people import LOST, People
from emotion_node.ros.transforms import TF_STALE, TransformTree
from emotion_node.skeleton.dataset import default_data_root
from emotion_node.skeleton.layouts import layout_presence

S = 1_000_000_000
PRESENT = layout_presence('ros4hri')


@pytest.fixture(scope='module')
def track():
    clip = default_data_root() / 'data' / 'dataset-1_walk_angry_001.bvh'
    return load_tracks([clip], duration_s=1.0)[0]


@pytest.fixture
def types(interface_typestore):
    return rosbags_factory(interface_typestore)


class Tracker:
    """Publishes like a ROS4HRI tracker, into an HriBodies."""

    def __init__(self, types, track, settings: HriSettings | None = None):
        settings = settings or HriSettings(fixed_frame='world')
        self.types, self.track = types, track
        self.bodies = HriBodies(settings, TransformTree(max_age_s=settings.tf_max_age_s))
        self.bodies.on_tf(types.new(hri.TF_TYPE, transforms=[
            hri.camera_transform(types, (0, 0), 'world')]), static=True)

    def body(self, body_id: str, i: int) -> BodyFrame:
        return BodyFrame(body_id, 0.0, self.track.positions[i], self.track.mask[i], 'world')

    def listed(self, ids: List[str], stamp_ns: int) -> InputBatch:
        return self.bodies.on_tracked(hri.build_tracked(self.types, divmod(stamp_ns, S),
                                                        'camera', ids))

    def frame(self, body_id: str, i: int, stamp_ns: int, parts=('roots', 'links')) -> List[Any]:
        roots, links = hri.build_body_tf(self.types, divmod(stamp_ns, S), 'world',
                                         self.body(body_id, i))
        return [self.bodies.on_tf(m, static=False)
                for m in (roots if 'roots' in parts else None,
                          links if 'links' in parts else None) if m is not None]


def canonical(track, i: int) -> np.ndarray:
    return np.where(PRESENT[:, None], track.positions[i], 0.0)


def test_joints_come_back_where_they_were_in_the_fixed_frame(types, track):
    tracker = Tracker(types, track)
    tracker.listed(['a'], 5 * S)
    (first, second) = tracker.frame('a', 3, 5 * S)
    assert first.frames == []  # the root came; its links have not: wait for them
    (body,) = second.frames
    assert (body.body_id, body.stamp, body.frame_id) == ('a', 5.0, 'world')
    assert (body.mask == PRESENT).all() and PRESENT.sum() == 15
    np.testing.assert_allclose(body.positions, canonical(track, 3), atol=1e-6)
    assert second.rejections == [] and body.repaired_joints == 0


def test_without_a_fixed_frame_joints_are_read_in_the_roots_frame(types, track):
    tracker = Tracker(types, track, HriSettings())
    tracker.listed(['a'], S)
    (body,) = tracker.frame('a', 0, S)[-1].frames
    translation, yaw = hri.BAG_CAMERA_POSE
    c, s = np.cos(yaw), np.sin(yaw)
    cam = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    want = (track.positions[0].astype(np.float64) - translation) @ cam  # R^T (p - t), per row
    assert body.frame_id == hri.BAG_CAMERA_FRAME
    np.testing.assert_allclose(body.positions[PRESENT], want[PRESENT], atol=1e-5)


def test_bodies_come_and_go_with_the_tracked_list(types, track):
    tracker = Tracker(types, track)
    tracker.frame('b', 0, S)  # frames before the first list naming it: kept a while
    assert tracker.listed(['a', 'b'], S).frames[0].body_id == 'b'
    tracker.frame('a', 0, S)
    assert 'l_wrist_a' in tracker.bodies.tree._links
    gone = tracker.listed(['b'], 2 * S)
    assert gone.left == ['a'] and tracker.bodies.tracked == ['b']
    assert 'l_wrist_a' not in tracker.bodies.tree._links  # a body that left is forgotten
    assert all(b.frames == [] for b in tracker.frame('a', 1, 2 * S))  # not tracked: not read
    tracker.listed(['b'], 3 * S)  # ... and its frames, older than this list, are dropped
    assert 'body_a' not in tracker.bodies.tree._links and 'a' not in tracker.bodies._pending


def test_a_lagging_link_waits_for_the_next_root_then_is_stale(types, track):
    tracker = Tracker(types, track, HriSettings(fixed_frame='world', tf_max_age_s=0.05))
    tracker.listed(['a'], S)
    tracker.frame('a', 0, S)  # links only at this first stamp from now on
    assert tracker.frame('a', 1, S + S // 30, parts=('roots',))[0].frames == []  # waiting
    later = tracker.frame('a', 2, S + 2 * S // 30, parts=('roots',))[0]
    (body,) = later.frames  # the waiting stamp, read once a newer root shows up: its links
    assert body.stamp == pytest.approx(1 + 1 / 30, abs=1e-9)  # are 33 ms old, within 50 ms
    assert body.mask.sum() == 15 and later.rejections == []
    stale = tracker.frame('a', 3, S + 3 * S // 30, parts=('roots',))[0]
    assert stale.frames == []  # 67 ms: every joint but the root stale, too few to feed
    assert [r.reason for r in stale.rejections] == [TF_STALE]
    assert 'body dropped' in stale.rejections[0].detail


def test_bad_lists_are_counted(types, track):
    tracker = Tracker(types, track, HriSettings(fixed_frame='world', max_bodies=2))
    msg = hri.build_tracked(types, (1, 0), 'camera', [])
    msg.ids = ['a', '', 'b', 'b', 'c']
    batch = tracker.bodies.on_tracked(msg)
    assert sorted(r.reason for r in batch.rejections) == sorted(
        [MISSING_BODY_ID, DUPLICATE_BODY_ID, TOO_MANY_BODIES])
    assert tracker.bodies.tracked == ['a', 'b']
    reasons = [[r.reason for r in tracker.listed(['a'], k * S).rejections] for k in range(2, 6)]
    assert reasons[:1] == [[]] and reasons[-1] == [hri.BODY_WITHOUT_FRAMES]


def test_the_reader_feeds_the_streams_and_turns_a_fixed_frame_not_z_up(types, track):
    p = NodeParams().with_values({'input.type': 'hri', 'input.fixed_frame': 'world',
                                  'input.tf_backend': 'builtin'})
    reader = make_reader(p)
    assert isinstance(reader, HriReader)
    assert [(s.topic, s.msgtype, s.latched) for s in reader.streams] == [
        ('/humans/bodies/tracked', 'hri_msgs/msg/IdsList', False),
        ('/tf', 'tf2_msgs/msg/TFMessage', False), ('/tf_static', 'tf2_msgs/msg/TFMessage', True)]
    reader.read(2, types.new(hri.TF_TYPE, transforms=[
        hri.camera_transform(types, (0, 0), 'world')]), p)
    reader.read(0, hri.build_tracked(types, (1, 0), 'camera', ['a']), p)
    roots, links = hri.build_body_tf(types, (1, 0), 'world',
                                     BodyFrame('a', 0, track.positions[0], track.mask[0], 'w'))
    reader.read(1, roots, p)
    (z_up,) = reader.read(1, links, p).frames
    y_up = p.with_values({'input.up_axis': 'y'})
    turned = make_reader(y_up)
    for index, msg in ((2, types.new(hri.TF_TYPE, transforms=[hri.camera_transform(
            types, (0, 0), 'world')])), (0, hri.build_tracked(types, (1, 0), 'camera', ['a'])),
            (1, roots), (1, links)):
        batch = turned.read(index, msg, y_up)
    (body,) = batch.frames
    np.testing.assert_allclose(body.positions[:, 2], z_up.positions[:, 1], atol=1e-6)


def test_a_person_the_tracker_drops_is_lost_at_the_next_sweep():
    people = People(max_persons=4, length_s=2.0, lost_timeout_s=5.0)
    people.add('a', 1.0, np.zeros((21, 3), np.float32), np.ones(21, bool), 'w', now=1.0)
    people.lose(['a', 'never-seen'])
    assert people.sweep(now=1.1) == [] and people.tracks['a'].status == LOST
    assert people.sweep(now=1.2) == ['a']  # reported lost once, then removed


def test_the_kind_reads_three_streams_of_two_packages():
    from emotion_node.ros.inputs import INPUT_KINDS
    assert INPUT_KINDS['hri'].msgtypes == ('hri_msgs/msg/IdsList', 'tf2_msgs/msg/TFMessage',
                                           'tf2_msgs/msg/TFMessage')
