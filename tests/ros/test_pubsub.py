"""The generated messages import and travel between two real processes over rmw_fastrtps.

Run as a script (`python test_pubsub.py talk`), this file is the publishing process.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pytest

SKELETON_TOPIC = '/skeletons'
STATE_TOPIC = '/emotion_state'
LABELS = ('neutral', 'happy', 'sad', 'angry', 'proud', 'not_confident', 'tired')


def _emotion_state(i: int):
    """A filled EmotionState (UTF-8 text, float arrays, nested times) that differs per i."""
    from builtin_interfaces.msg import Time
    from emotion_node.msg import EmotionState, PersonEmotion
    # Values exact in float32, so a message equals itself after a trip through the wire.
    scores = np.full(len(LABELS), 0.0625, np.float32)
    scores[1] = 0.625
    person = PersonEmotion(
        body_id=f'body-{i}', status=PersonEmotion.STATUS_OK, label='happy', confidence=0.625,
        labels=list(LABELS), scores=scores.tolist(), valence=0.5, arousal=0.375,
        window_start=Time(sec=100 + i, nanosec=0), window_end=Time(sec=102 + i, nanosec=5),
        window_frames=30, valid_joint_fraction=0.9375,
        explanation='Loose, quick arm swings — a light, bouncy gait.',
        explanation_stamp=Time(sec=102 + i, nanosec=5))
    lost = PersonEmotion(body_id='body-x', status=PersonEmotion.STATUS_LOST)
    state = EmotionState(persons=[person, lost], model_name='tokenizer', model_hash='0123abcd')
    state.header.stamp = Time(sec=102 + i, nanosec=5)
    state.header.frame_id = 'world'
    return state


def _skeleton_array(i: int):
    """A SkeletonArray of two bodies built by the converter's rclpy path."""
    from emotion_node.ros.convert import BodyFrame, build_skeleton_array, rclpy_factory
    rng = np.random.default_rng(i)
    bodies = [BodyFrame(str(b), 0.0, rng.normal(size=(21, 3)).astype(np.float32),
                        rng.random(21) > 0.2, 'world') for b in (1, 2)]
    return build_skeleton_array(rclpy_factory(), (200 + i, 0), 'world', bodies, 'k4abt')


def test_messages_build_and_import() -> None:
    from rclpy.serialization import deserialize_message, serialize_message
    from emotion_node.msg import EmotionState, PersonEmotion, Skeleton, SkeletonArray
    assert (PersonEmotion.STATUS_WARMING_UP, PersonEmotion.STATUS_OK,
            PersonEmotion.STATUS_LOST) == (0, 1, 2)
    for cls, fields in [(SkeletonArray, {'header', 'skeletons'}),
                        (Skeleton, {'body_id', 'layout', 'joint_names', 'positions',
                                    'confidences'}),
                        (EmotionState, {'header', 'persons', 'model_name', 'model_hash'})]:
        assert fields <= set(cls.get_fields_and_field_types())
    for msg in (_emotion_state(3), _skeleton_array(3)):
        assert deserialize_message(serialize_message(msg), type(msg)) == msg
    assert _emotion_state(1) != _emotion_state(2)


@pytest.mark.ros_domain(41)
def test_two_processes_exchange_state_and_skeletons(ros_env, ros_processes, topic_listener,
                                                    json_lines, digest) -> None:
    assert ros_env['RMW_IMPLEMENTATION'] == 'rmw_fastrtps_cpp'
    count = 3
    state_sub = ros_processes.start(
        topic_listener(STATE_TOPIC, 'emotion_node/msg/EmotionState', count), ros_env)
    skel_sub = ros_processes.start(
        topic_listener(SKELETON_TOPIC, 'emotion_node/msg/SkeletonArray', count), ros_env)
    talker = ros_processes.start([sys.executable, __file__, 'talk', '--count', str(count)],
                                 ros_env)
    rc, out, err = ros_processes.wait(talker, timeout=40)
    assert rc == 0, err
    assert f'published {count}' in out
    for sub, make in ((state_sub, _emotion_state), (skel_sub, _skeleton_array)):
        rc, out, err = ros_processes.wait(sub, timeout=20)
        assert rc == 0, err
        sent = [make(i) for i in range(count)]
        got = json_lines(out)
        assert [r['digest'] for r in got] == [digest(m) for m in sent]  # every field, in order
        assert [r['stamp_ns'] for r in got] == \
            [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in sent]


def _talk(argv: list[str]) -> int:
    """Publisher process: wait for subscribers, publish `count` of each message."""
    import rclpy
    from rclpy.duration import Duration
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from emotion_node.msg import EmotionState, SkeletonArray

    parser = argparse.ArgumentParser()
    parser.add_argument('mode', choices=['talk'])
    parser.add_argument('--count', type=int, default=3)
    args = parser.parse_args(argv)
    rclpy.init(args=[])
    node = rclpy.create_node('test_talker')
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    pubs = {STATE_TOPIC: node.create_publisher(EmotionState, STATE_TOPIC, latched),
            SKELETON_TOPIC: node.create_publisher(SkeletonArray, SKELETON_TOPIC, 10)}
    try:
        deadline = time.monotonic() + 20.0
        while any(p.get_subscription_count() < 1 for p in pubs.values()):
            if time.monotonic() > deadline:
                print('no subscribers', file=sys.stderr)
                return 1
            time.sleep(0.02)
        for i in range(args.count):
            for topic, msg in ((STATE_TOPIC, _emotion_state(i)), (SKELETON_TOPIC,
                                                                  _skeleton_array(i))):
                pubs[topic].publish(msg)
            # The latched topic keeps one message: each must be acknowledged before the
            # next replaces it, however slow the machine.
            for topic, pub in pubs.items():
                if not pub.wait_for_all_acked(Duration(seconds=15)):
                    print(f'message {i} on {topic} not acknowledged', file=sys.stderr)
                    return 1
        print(f'published {args.count} of each', flush=True)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(_talk(sys.argv[1:]))
