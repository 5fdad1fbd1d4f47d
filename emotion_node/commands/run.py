"""Run the emotion node (takes --ros-args like ros2 run).

    emotion-node run [--ros-args -p autostart:=true --params-file FILE -r __ns:=/robot ...]

Everything after `run` goes to rclpy untouched, exactly as with `ros2 run emotion_node
emotion_node`, with one difference: `emotion-node run` is for users without a lifecycle manager,
so unless the arguments name `autostart` it configures and activates the node at once (so that
`emotion-node run` and `emotion-node replay BAG` work together with no arguments). Pass
`-p autostart:=false` to leave it unconfigured, as `ros2 run` does.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Sequence

USAGE = """usage: emotion-node run [--ros-args ARG ...]

Start the emotion lifecycle node. ROS arguments as for ros2 run, for example:
  emotion-node run                       (configures and activates itself)
  emotion-node run --ros-args -p autostart:=false   (waits for a lifecycle manager)
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
    args: List[str] = list(argv)
    if args[:1] in (['-h'], ['--help']):
        print(USAGE)
        return 0
    if args and args[0] != '--ros-args':
        print(f'emotion-node run: unexpected argument {args[0]!r}; ROS arguments start with '
              f'--ros-args\n\n{USAGE}', file=sys.stderr)
        return 2
    from emotion_node.ros.stop_signals import StopSignals
    stop = StopSignals()  # before the heavy imports: Ctrl-C while starting ends cleanly too
    try:
        from emotion_node.ros.node_main import main as node_main
    except ImportError as err:
        print(f'emotion-node run: ROS 2 or the built messages are not importable ({err}); '
              f'run ros2_ws/bootstrap.sh and `source ros2_ws/env.sh` first', file=sys.stderr)
        return 1
    if not any('autostart' in arg for arg in args):
        # First, so a later --params-file or -p can still override it.
        args = ['--ros-args', '-p', 'autostart:=true', *args]
    return node_main(['emotion-node-run', *args], stop=stop)
