"""Publish a rosbag2 file at its recorded timing (like `ros2 bag play`, from rclpy)."""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the replay command's arguments."""
    parser.add_argument('bag', metavar='BAG', help='rosbag2 folder (mcap or sqlite3)')
    parser.add_argument('--rate', type=float, default=1.0,
                        help='playback speed factor (default: %(default)s)')
    parser.add_argument('--loop', action='store_true', help='start again at the end')
    parser.add_argument('--clock', action='store_true',
                        help='publish the bag time on /clock (for use_sim_time nodes)')
    parser.add_argument('--clock-hz', type=float, default=40.0,
                        help='/clock publishing rate (default: %(default)s)')
    parser.add_argument('--qos', choices=('reliable', 'sensor'), default='reliable',
                        help='reliable (default; best-effort subscribers still match) or the '
                             'sensor-data profile')
    parser.add_argument('--delay', type=float, default=0.0, metavar='S',
                        help='wait S seconds after start-up before playing (discovery)')
    parser.add_argument('--wait-for-subscribers', type=int, default=0, metavar='N',
                        help='before playing, wait (up to --wait-timeout) for N subscribers '
                             'on every topic, then 0.5 s more for discovery to settle')
    parser.add_argument('--wait-timeout', type=float, default=10.0, metavar='S',
                        help='longest wait for subscribers (default: %(default)s)')
    parser.add_argument('--remap', action='append', default=[], metavar='FROM:=TO',
                        help='publish a recorded topic under another name (repeatable)')


def _remaps(pairs: list[str]) -> dict[str, str]:
    """['/a:=/b'] -> {'/a': '/b'}."""
    out = {}
    for pair in pairs:
        src, sep, dst = pair.partition(':=')
        if not sep or not src or not dst:
            raise ValueError(f'bad --remap {pair!r}; expected FROM:=TO')
        out[src] = dst
    return out


def main(args: argparse.Namespace) -> int:
    """Check the bag and options, then publish until the end (or Ctrl-C with --loop)."""
    from emotion_node.ros.bag_io import bag_topics
    from emotion_node.ros.replay import ReplayOptions, play
    try:
        options = ReplayOptions(args.rate, args.loop, args.clock, args.clock_hz, args.qos,
                                args.delay, args.wait_for_subscribers, args.wait_timeout,
                                _remaps(args.remap))
        options.validate()
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    try:
        topics = bag_topics(args.bag)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return play(args.bag, options, topics)
