"""Run the emotion node (takes --ros-args like ros2 run).

    emotion-node run [--ros-args -p autostart:=true --params-file FILE -r __ns:=/robot ...]

Everything after `run` goes to rclpy untouched, exactly as with `ros2 run emotion_node
emotion_node`. Without a lifecycle manager, pass `-p autostart:=true` (or use
`ros2 launch emotion_node emotion.launch.py`, which configures and activates the node).
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Sequence

USAGE = """usage: emotion-node run [--ros-args ARG ...]

Start the emotion lifecycle node. ROS arguments as for ros2 run, for example:
  emotion-node run --ros-args -p autostart:=true
  emotion-node run --ros-args --params-file config/emotion_node.yaml -p autostart:=true
  emotion-node run --ros-args -p autostart:=true -p input.type:=markers -r __ns:=/robot1
Parameters and topics: see config/emotion_node.yaml and docs/README_node.md."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Collect everything after `run` for rclpy."""
    parser.add_argument('ros_args', nargs=argparse.REMAINDER,
                        help='--ros-args followed by -p NAME:=VALUE, --params-file FILE, -r ...')


def main(args: argparse.Namespace) -> int:
    """Run the node with the collected ROS arguments."""
    return main_with_ros_args(args.ros_args)


def main_with_ros_args(argv: Sequence[str]) -> int:
    """Run the node with `argv` (what followed `run`) as its command line; return the exit code."""
    argv: List[str] = list(argv)
    if argv[:1] in (['-h'], ['--help']):
        print(USAGE)
        return 0
    if argv and argv[0] != '--ros-args':
        print(f'emotion-node run: unexpected argument {argv[0]!r}; ROS arguments start with '
              f'--ros-args\n\n{USAGE}', file=sys.stderr)
        return 2
    try:
        from emotion_node.ros.node_main import main as node_main
    except ImportError as err:
        print(f'emotion-node run: ROS 2 or the built messages are not importable ({err}); '
              f'run ros2_ws/bootstrap.sh and `source ros2_ws/env.sh` first', file=sys.stderr)
        return 1
    return node_main(['emotion-node-run', *argv])
