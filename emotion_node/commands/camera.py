"""Run the camera node: images or a video file in, 3D skeletons on /skeletons out.

    emotion-node camera [--video FILE [--start S] [--end S] [--loop]] [--image-topic T]
                        [--people N] [--hfov DEG] [--root-locked] [--ros-args ...]

The options set the node's parameters (`config/camera_node.yaml` lists them all); anything
after --ros-args goes to rclpy as with `ros2 run emotion_node camera_node`. The emotion node
reads the output with `input.up_axis:=-y` (the camera optical frame).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node camera`."""
    parser.add_argument('--video', type=Path, help='a video file instead of the image topic')
    parser.add_argument('--start', type=float, default=0.0, help='video: first second played')
    parser.add_argument('--end', type=float, default=0.0,
                        help='video: second where playback ends (default: the end)')
    parser.add_argument('--loop', action='store_true', help='video: play it again at the end')
    parser.add_argument('--wait-for-subscribers', type=int, default=0, metavar='N',
                        help='video: start once the output topic has N subscribers')
    parser.add_argument('--image-topic', default='', help='sensor_msgs/Image topic '
                                                          '(default /image_raw)')
    parser.add_argument('--people', type=int, default=0,
                        help='most people found in one image (default 4)')
    parser.add_argument('--hfov', type=float, default=0.0,
                        help='horizontal field of view in degrees, for placing people in the '
                             'camera frame (default 60)')
    parser.add_argument('--root-locked', action='store_true',
                        help='publish hip-centred skeletons (no placement in the room)')
    parser.add_argument('--ros-args', dest='ros_args', nargs=argparse.REMAINDER, default=[],
                        help='ROS arguments for the node (-p NAME:=VALUE, --params-file, -r)')


def node_arguments(args: argparse.Namespace) -> List[str]:
    """The node's command line for these options."""
    params: List[str] = []
    if args.video is not None:
        params += [f'video.path:={args.video.expanduser().resolve()}',
                   f'video.start_s:={float(args.start)}', f'video.end_s:={float(args.end)}',
                   f'video.loop:={str(args.loop).lower()}',
                   f'video.wait_subscribers:={args.wait_for_subscribers}']
    if args.image_topic:
        params.append(f'image.topic:={args.image_topic}')
    if args.people:
        params.append(f'pose.num_poses:={args.people}')
    if args.hfov:
        params.append(f'camera.hfov_deg:={float(args.hfov)}')
    if args.root_locked:
        params.append('camera.placement:=root_locked')
    out = ['emotion-node-camera', '--ros-args']
    for value in params:
        out += ['-p', value]
    return out + list(args.ros_args)


def main(args: argparse.Namespace) -> int:
    """Start the node; return its exit code."""
    if args.video is not None and not args.video.expanduser().is_file():
        print(f'emotion-node camera: video file not found: {args.video}', file=sys.stderr)
        return 2
    from emotion_node.ros.stop_signals import StopSignals
    stop = StopSignals()  # before the heavy imports: Ctrl-C while starting ends cleanly too
    try:
        from emotion_node.ros.camera_node import main as camera_main
    except ImportError as err:
        print(f'emotion-node camera: ROS 2, the built messages or mediapipe are not importable '
              f'({err}); run ros2_ws/bootstrap.sh and `source ros2_ws/env.sh` first',
              file=sys.stderr)
        return 1
    return camera_main(node_arguments(args), stop=stop)
