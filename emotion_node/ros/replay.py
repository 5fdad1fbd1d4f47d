"""Publish a rosbag2 file with rclpy at its recorded timing (rate factor, loop, optional /clock).

Messages go out as the bag's serialized cdr bytes, so what subscribers receive is exactly what
was recorded; only the publisher's type support comes from the rclpy message class.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import rclpy
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from emotion_node.ros.bag_io import bag_topics, latched_topics, read_bag_raw
from emotion_node.ros.convert import import_message_class

CLOCK_TOPIC = '/clock'
CLOCK_TYPE = 'rosgraph_msgs/msg/Clock'
QOS_CHOICES = ('reliable', 'sensor')
_MAX_SLEEP_S = 0.05  # wake this often to notice Ctrl-C / shutdown
ACK_TIMEOUT_S = 2.0  # at the end, wait this long for reliable subscribers to acknowledge
# After we see a subscriber, it may not have seen us yet; samples sent meanwhile arrive late
# through reliable repair (or are lost to a best-effort one). Give discovery this long to settle.
SETTLE_S = 0.5


@dataclass
class ReplayOptions:
    """How to play a bag."""

    rate: float = 1.0  # 2.0 plays twice as fast
    loop: bool = False
    clock: bool = False  # publish rosgraph_msgs/Clock with the bag time on /clock
    clock_hz: float = 40.0
    qos: str = 'reliable'  # reliable (best-effort subscribers still match) or sensor
    delay_s: float = 0.0  # pause after creating publishers (discovery) before the first message
    wait_for_subscribers: int = 0  # before playing, wait until every topic has this many
    wait_timeout_s: float = 10.0
    remap: dict[str, str] = field(default_factory=dict)  # recorded topic -> published topic

    def validate(self) -> None:
        """Raise ValueError naming the first bad option."""
        if not self.rate > 0:
            raise ValueError(f'rate must be > 0, got {self.rate}')
        if not self.clock_hz > 0:
            raise ValueError(f'clock rate must be > 0 Hz, got {self.clock_hz}')
        if self.qos not in QOS_CHOICES:
            raise ValueError(f'unknown qos {self.qos!r}; expected one of {QOS_CHOICES}')
        if self.delay_s < 0 or self.wait_for_subscribers < 0 or self.wait_timeout_s < 0:
            raise ValueError('delay, wait_for_subscribers and wait_timeout must be >= 0')


# Recorded from a transient-local publisher (/tf_static): offered the same way again.
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _qos(name: str) -> QoSProfile:
    """Reliable keep-last-10 (like `ros2 bag play`) or the sensor-data profile."""
    return QoSProfile(depth=10) if name == 'reliable' else qos_profile_sensor_data


@dataclass
class _Pass:
    """One pass over the bag: wall-clock origin and bag-time origin."""

    wall_start: float
    bag_start_ns: int


class BagPlayer:
    """Publishes one bag from a node; `play()` blocks until done, looped, or shut down."""

    def __init__(self, node: Node, path: str | Path, options: ReplayOptions) -> None:
        options.validate()
        self._node = node
        self._path = Path(path)
        self._options = options
        self._topics = bag_topics(self._path)  # also checks the bag opens
        if not self._topics:
            raise ValueError(f'bag {self._path} has no topics')
        self._pubs: dict[str, Publisher] = {}
        latched = latched_topics(self._path)
        for topic, msgtype in self._topics.items():
            name = options.remap.get(topic, topic)
            self._pubs[topic] = node.create_publisher(
                import_message_class(msgtype), name,
                LATCHED_QOS if topic in latched else _qos(options.qos))
        self._clock_pub: Optional[Publisher] = None
        if options.clock:
            self._clock_pub = node.create_publisher(
                import_message_class(CLOCK_TYPE), CLOCK_TOPIC, QoSProfile(depth=10))
        self._clock_cls: Callable[..., Any] = import_message_class(CLOCK_TYPE)
        self._next_start: Optional[float] = None  # wall time the next loop pass starts
        self.published = 0

    def play(self) -> int:
        """Play (and loop) the bag; return the number of messages published."""
        if not self._wait_for_subscribers() or not self._sleep(self._options.delay_s):
            return self.published
        while self._ok():
            if not self._play_once() or not self._options.loop:
                break
        self._flush()
        return self.published

    def _flush(self) -> None:
        """Let reliable subscribers acknowledge the last messages before the node goes away."""
        for pub in self._pubs.values():
            if self._ok() and not pub.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S)):
                self._node.get_logger().warning(
                    f'{pub.topic_name}: not every subscriber acknowledged the last messages')

    def _play_once(self) -> bool:
        """One pass; False when interrupted. A loop restarts one recorded frame gap later."""
        current: Optional[_Pass] = None
        next_clock = time.monotonic()
        last_ns: Optional[int] = None
        gap_ns = 0
        for topic, _, stamp_ns, raw in read_bag_raw(self._path):
            if current is None:
                current = _Pass(self._next_start or time.monotonic(), stamp_ns)
            offset_s = (stamp_ns - current.bag_start_ns) * 1e-9 / self._options.rate
            due = current.wall_start + offset_s
            while self._clock_pub is not None and next_clock < due:  # clock ticks in between
                if not self._sleep_until(next_clock):
                    return False
                self._publish_clock(current)
                next_clock += 1.0 / self._options.clock_hz
            if not self._sleep_until(due):
                return False
            self._pubs[topic].publish(raw)
            self.published += 1
            gap_ns = stamp_ns - last_ns if last_ns is not None else 0
            last_ns = stamp_ns
            # (at least 1 ms, so a one-message bag does not loop in a busy spin)
            self._next_start = due + max(gap_ns, 1_000_000) * 1e-9 / self._options.rate
        return self._ok()

    def _publish_clock(self, current: _Pass) -> None:
        """Publish the bag time that corresponds to now."""
        elapsed_ns = int((time.monotonic() - current.wall_start) * self._options.rate * 1e9)
        sec, nsec = divmod(current.bag_start_ns + elapsed_ns, 10**9)
        msg = self._clock_cls()
        msg.clock.sec, msg.clock.nanosec = sec, nsec
        assert self._clock_pub is not None
        self._clock_pub.publish(msg)

    def _wait_for_subscribers(self) -> bool:
        """Wait until every publisher is matched by enough subscribers (or time out, warning)."""
        want = self._options.wait_for_subscribers
        deadline = time.monotonic() + self._options.wait_timeout_s
        while want and any(p.get_subscription_count() < want for p in self._pubs.values()):
            if time.monotonic() > deadline:
                self._node.get_logger().warning(
                    f'no {want} subscriber(s) on every topic after '
                    f'{self._options.wait_timeout_s:.1f} s; playing anyway')
                break
            if not self._sleep(0.01):
                return False
        return self._sleep(SETTLE_S) if want else self._ok()

    def _ok(self) -> bool:
        """False once the context is shut down (Ctrl-C, SIGTERM)."""
        return self._node.context.ok()

    def _sleep(self, seconds: float) -> bool:
        """Sleep, waking up for shutdown; False when shut down."""
        return self._sleep_until(time.monotonic() + seconds)

    def _sleep_until(self, target: float) -> bool:
        """Sleep until a monotonic time in short steps; False when shut down."""
        while True:
            remaining = target - time.monotonic()
            if not self._ok():
                return False
            if remaining <= 0:
                return True
            time.sleep(min(remaining, _MAX_SLEEP_S))


def play(bag: str, options: ReplayOptions, topics: Dict[str, str]) -> int:
    """Publish a bag (`topics`: its topic -> type) from a node of its own until it ends, or until
    Ctrl-C with --loop; print what it publishes; return the exit code."""
    rclpy.init(args=[])
    node = Node('emotion_node_replay')
    player = None
    try:
        player = BagPlayer(node, bag, options)
        for topic, msgtype in topics.items():
            print(f'playing {topic} [{msgtype}] -> {options.remap.get(topic, topic)}', flush=True)
        player.play()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    print(f'published {player.published if player else 0} messages', flush=True)
    return 0
