"""The TF buffer without tf2: composition, interpolation, staleness, loops and bounds."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from emotion_node.ros import transforms
from emotion_node.ros.transforms import (
    TF_BAD_TRANSFORM, TF_LOOP, TF_MISSING_LINK, TF_STALE, TF_TOO_MANY_FRAMES, TransformTree,
    make_tree, matrix_quaternion, quaternion_matrix, slerp)

S = 1_000_000_000  # ns per second


def rotation(axis: str, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return {'x': np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            'y': np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            'z': np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


def tf(parent: str, child: str, stamp_ns: int, r: np.ndarray | None = None,
       t=(0.0, 0.0, 0.0)) -> SimpleNamespace:
    """A duck-typed geometry_msgs/TransformStamped."""
    q = matrix_quaternion(np.eye(3) if r is None else r)
    return SimpleNamespace(
        header=SimpleNamespace(frame_id=parent, stamp=SimpleNamespace(sec=stamp_ns // S,
                                                                      nanosec=stamp_ns % S)),
        child_frame_id=child,
        transform=SimpleNamespace(translation=SimpleNamespace(x=t[0], y=t[1], z=t[2]),
                                  rotation=SimpleNamespace(x=q[0], y=q[1], z=q[2], w=q[3])))


def test_quaternions_round_trip_and_slerp_halves_the_angle():
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        r = quaternion_matrix(q)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(quaternion_matrix(matrix_quaternion(r)), r, atol=1e-12)
    half = slerp(matrix_quaternion(np.eye(3)), matrix_quaternion(rotation('z', 1.0)), 0.5)
    np.testing.assert_allclose(quaternion_matrix(half), rotation('z', 0.5), atol=1e-12)


def test_a_chain_composes_like_the_matrices_it_names():
    """world -> a (static) -> b -> c: c's origin in world, and world's origin seen from c."""
    tree = TransformTree()
    ra, rb, rc = rotation('z', 0.7), rotation('x', -0.4), rotation('y', 1.1)
    ta, tb, tc = np.array([1.0, 2, 0.5]), np.array([0.3, -0.2, 0.1]), np.array([0, 0, -0.45])
    assert tree.add(tf('world', 'a', 0, ra, ta), static=True) is None
    assert tree.add(tf('/a', 'b', 5 * S, rb, tb), static=False) is None  # a leading slash
    assert tree.add(tf('b', 'c', 5 * S, rc, tc), static=False) is None
    c_in_world = ra @ (rb @ tc + tb) + ta
    placed = tree.place('world', ['c', 'b', 'world'], 5 * S)
    assert placed.reasons == [None, None, None]
    np.testing.assert_allclose(placed.positions[0], c_in_world, atol=1e-12)
    np.testing.assert_allclose(placed.positions[1], ra @ tb + ta, atol=1e-12)
    np.testing.assert_allclose(placed.positions[2], 0.0, atol=1e-12)
    r_c_world = ra @ rb @ rc
    np.testing.assert_allclose(tree.place('c', ['world'], 5 * S).positions[0],
                               r_c_world.T @ -c_in_world, atol=1e-12)
    # Two frames under one ancestor, neither of them its root.
    tree.add(tf('a', 'd', 5 * S, np.eye(3), (0.0, 1.0, 0.0)), static=False)
    np.testing.assert_allclose(tree.place('d', ['b'], 5 * S).positions[0],
                               tb - np.array([0, 1.0, 0]), atol=1e-12)


def test_between_samples_a_link_is_interpolated_and_never_extrapolated():
    tree = TransformTree(max_age_s=0.1)
    tree.add(tf('world', 'body', 10 * S, rotation('z', 0.0), (0.0, 0.0, 0.0)), False)
    tree.add(tf('world', 'body', 11 * S, rotation('z', 1.0), (1.0, 0.0, 0.0)), False)
    tree.add(tf('body', 'hand', 10 * S, np.eye(3), (0.0, 1.0, 0.0)), False)
    tree.add(tf('body', 'hand', 11 * S, np.eye(3), (0.0, 1.0, 0.0)), False)
    mid = tree.place('world', ['hand'], 10 * S + S // 2)
    np.testing.assert_allclose(mid.positions[0], [0.5, 0, 0] + rotation('z', 0.5) @ [0, 1, 0],
                               atol=1e-12)
    # Within max_age of the newest sample it holds; past it the joint is stale.
    assert tree.place('world', ['hand'], 11 * S + S // 20).reasons == [None]
    late = tree.place('world', ['hand'], 11 * S + S // 5)
    assert late.reasons == [TF_STALE] and np.isnan(late.positions).all()
    assert 'hand' in late.details[0]
    assert tree.place('world', ['hand'], 9 * S).reasons == [TF_STALE]  # before the history


def test_covers_waits_for_every_link_and_for_a_join_to_the_target():
    tree = TransformTree()
    tree.add(tf('camera', 'body_1', 5 * S), False)
    assert not tree.covers('world', ['body_1'], 5 * S)  # camera not yet joined to the world
    tree.add(tf('world', 'camera', 0), True)
    assert tree.covers('world', ['body_1'], 5 * S)
    assert not tree.covers('world', ['body_1', 'torso_1'], 5 * S)  # torso not published yet
    tree.add(tf('body_1', 'torso_1', 4 * S), False)
    assert not tree.covers('world', ['torso_1'], 5 * S)  # its link lags behind the stamp
    tree.add(tf('body_1', 'torso_1', 5 * S), False)
    assert tree.covers('world', ['body_1', 'torso_1'], 5 * S)


def test_loops_missing_links_and_bad_transforms_are_named():
    tree = TransformTree()
    tree.add(tf('world', 'body', S), False)
    tree.add(tf('body', 'elbow', S), False)
    tree.add(tf('elbow', 'wrist', S), False)
    tree.add(tf('wrist', 'elbow', S), False)  # elbow now hangs from its own child
    tree.add(tf('nowhere', 'head', S), False)
    placed = tree.place('world', ['body', 'wrist', 'elbow', 'head', 'ghost'], S)
    assert placed.reasons == [None, TF_LOOP, TF_LOOP, TF_MISSING_LINK, TF_MISSING_LINK]
    assert 'loop' in placed.details[1] and "'nowhere'" in placed.details[3]
    assert tree.covers('world', ['wrist'], S)  # a loop will not mend by waiting
    for bad in (tf('a', 'a', S), tf('', 'b', S), tf('a', '', S)):
        assert tree.add(bad, False)[0] == TF_BAD_TRANSFORM
    zero = tf('a', 'b', S)
    zero.transform.rotation.w = 0.0
    nan = tf('a', 'c', S, t=(np.nan, 0.0, 0.0))
    assert tree.add(zero, False)[0] == TF_BAD_TRANSFORM
    assert tree.add(nan, False)[0] == TF_BAD_TRANSFORM
    assert tree.parent('b') is None and tree.parent('c') is None


def test_the_tree_stays_bounded():
    tree = TransformTree(history_s=1.0, max_frames=3)
    for k in range(100):
        tree.add(tf('world', 'body', k * S // 10), False)
    assert len(tree._links['body'].stamps) == 11  # one second of 10 Hz, both ends
    for name in ('a', 'b'):
        assert tree.add(tf('world', name, S), False) is None
    refused = tree.add(tf('world', 'c', S), False)
    assert refused is not None and refused[0] == TF_TOO_MANY_FRAMES
    tree.forget(['a', 'b'])
    assert tree.add(tf('world', 'c', S), False) is None and len(tree) == 2


def test_a_new_parent_starts_the_link_anew_and_repeated_stamps_replace():
    tree = TransformTree()
    tree.add(tf('world', 'body', S, t=(1.0, 0.0, 0.0)), False)
    tree.add(tf('world', 'body', S, t=(2.0, 0.0, 0.0)), False)
    assert tree._links['body'].stamps == [S]
    np.testing.assert_allclose(tree.place('world', ['body'], S).positions[0], [2, 0, 0])
    tree.add(tf('odom', 'body', 2 * S), False)
    assert tree.parent('body') == 'odom' and tree._links['body'].stamps == [2 * S]


def test_the_backend_is_chosen_by_name(monkeypatch):
    monkeypatch.setattr(transforms, 'tf2_installed', lambda: False)
    assert isinstance(make_tree('auto', 2.0, 0.1), TransformTree)
    assert isinstance(make_tree('builtin', 2.0, 0.1), TransformTree)
    with pytest.raises(ValueError, match='tf2_ros'):
        make_tree('tf2', 2.0, 0.1)
    with pytest.raises(ValueError, match='unknown tf backend'):
        make_tree('mine', 2.0, 0.1)


@pytest.mark.skipif(not transforms.tf2_installed(), reason='tf2_ros is not installed here')
def test_tf2_gives_the_built_in_answers():
    """Where a ROS install has tf2: the same positions from its buffer."""
    from geometry_msgs.msg import TransformStamped

    def rclpy_tf(ns: SimpleNamespace) -> TransformStamped:
        msg = TransformStamped()
        msg.header.frame_id, msg.child_frame_id = ns.header.frame_id, ns.child_frame_id
        msg.header.stamp.sec, msg.header.stamp.nanosec = ns.header.stamp.sec, \
            ns.header.stamp.nanosec
        for part in ('translation', 'rotation'):
            for axis in ('x', 'y', 'z') + (('w',) if part == 'rotation' else ()):
                setattr(getattr(msg.transform, part), axis,
                        float(getattr(getattr(ns.transform, part), axis)))
        return msg

    links = [(tf('world', 'a', 0, rotation('z', 0.7), (1.0, 2, 0.5)), True)] + [
        (tf('a', 'b', k * S, rotation('x', 0.1 * k), (0.1 * k, 0, 0)), False) for k in (4, 5)]
    built, tf2 = TransformTree(), make_tree('tf2', 10.0, 0.1)
    for link, static in links:
        built.add(link, static)
        assert tf2.add(rclpy_tf(link), static) is None
    for stamp in (4 * S, 4 * S + S // 3, 5 * S):
        np.testing.assert_allclose(tf2.place('world', ['b'], stamp).positions,
                                   built.place('world', ['b'], stamp).positions, atol=1e-9)
    assert tf2.place('world', ['b'], 7 * S).reasons == [TF_STALE]
    assert tf2.place('world', ['ghost'], 5 * S).reasons == [TF_MISSING_LINK]
