"""The node's counters: messages missed before the node, from publishers' sequence numbers."""
from emotion_node.ros.outputs import MAX_PUBLISHERS, NodeStats


def test_gaps_in_a_publishers_sequence_are_counted_as_missed():
    stats = NodeStats()
    for sequence in (5, 6, 9, 10, 14):  # its first is 5: 1-4 were sent before the node listened
        stats.count_sequence(b'camera', sequence)
    assert stats.missed == 2 + 3
    stats.count_sequence(b'camera', 12)  # behind (never from DDS, which keeps order): no count
    stats.count_sequence(b'camera', 15)
    assert stats.missed == 5


def test_publishers_are_followed_apart_and_unsupported_numbers_count_nothing():
    stats = NodeStats()
    for a, b in ((1, 100), (2, 101), (4, 103)):
        stats.count_sequence(b'a', a)
        stats.count_sequence(b'b', b)
    assert stats.missed == 2  # one gap each
    stats.count_sequence(None, 7)
    stats.count_sequence(b'c', None)
    stats.count_sequence(b'c', 2**64 - 1)  # RMW_MESSAGE_INFO_SEQUENCE_NUMBER_UNSUPPORTED
    stats.count_sequence(b'c', 2**64 - 1)
    assert stats.missed == 2


def test_a_new_subscription_and_many_publishers_start_afresh():
    stats = NodeStats()
    stats.count_sequence(b'a', 1)
    stats.forget_publishers()  # deactivated, then active again: what came between is not missed
    stats.count_sequence(b'a', 50)
    assert stats.missed == 0
    for i in range(MAX_PUBLISHERS + 1):  # the oldest publisher is forgotten, not kept forever
        stats.count_sequence(bytes([i]), 1)
    stats.count_sequence(b'a', 60)
    assert stats.missed == 0
    stats.count_sequence(bytes([MAX_PUBLISHERS]), 3)  # still followed
    assert stats.missed == 1
