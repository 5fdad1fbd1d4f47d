"""Records ROS4HRI Expression topics for tests/ros/test_trackers.py, as its own process (it needs
hri_msgs, which only the child processes' environment has).

    python expression_probe.py TOPIC... [--timeout S]

Prints JSON lines: {"kind": "ready"} once subscribed; {"kind": "expression", "topic", "stamp_ns",
"frame_id", "expression", "valence", "arousal", "confidence"} per message; {"kind": "graph",
"published": [...]} whenever the set of /humans/bodies/ topics that have a publisher changes.
Exits on SIGINT or after the timeout.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import rclpy
from rclpy.qos import QoSProfile


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('topics', nargs='+')
    parser.add_argument('--timeout', type=float, default=120.0)
    args = parser.parse_args(argv)
    from hri_msgs.msg import Expression

    rclpy.init(args=[])
    node = rclpy.create_node('expression_probe')

    def on_expression(topic: str, msg: Expression) -> None:
        print(json.dumps({'kind': 'expression', 'topic': topic, 'frame_id': msg.header.frame_id,
                          'stamp_ns': msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec,
                          'expression': msg.expression, 'valence': msg.valence,
                          'arousal': msg.arousal, 'confidence': msg.confidence}), flush=True)

    for topic in args.topics:
        node.create_subscription(Expression, topic,
                                 lambda msg, topic=topic: on_expression(topic, msg),
                                 QoSProfile(depth=100))
    print(json.dumps({'kind': 'ready'}), flush=True)
    last = None
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.02)
            published = sorted(t for t, _ in node.get_topic_names_and_types()
                               if t.startswith('/humans/bodies/') and node.count_publishers(t))
            graph = {'kind': 'graph', 'published': published}
            if graph != last:
                print(json.dumps(graph), flush=True)
                last = graph
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
