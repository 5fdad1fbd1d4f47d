"""Convert BVH clips into a rosbag2 file of skeleton messages, a person per clip side by side,
or a video file into one of camera images (`--video`) for the camera node."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emotion_node.ros.adapters.zed import BODY_FORMATS as ZED_BODY_FORMATS
from emotion_node.ros.bag_io import (
    DEFAULT_FRAME_ID, DEFAULT_IMAGE_TOPIC, INPUT_KINDS, LANE_SPACING_M, STORAGE_FORMATS,
    BagSummary, load_tracks, write_bag, write_video_bag)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the bag command's arguments."""
    parser.add_argument('clips', nargs='*', metavar='CLIP',
                        help='BVH files (or folders of them); one person per clip, in this order')
    parser.add_argument('--video', metavar='FILE',
                        help='instead of clips: a video file, written as sensor_msgs/Image '
                             f'(rgb8) on {DEFAULT_IMAGE_TOPIC} at its frame times, for '
                             '`emotion-node camera` (with --duration and --video-start)')
    parser.add_argument('--video-start', type=float, default=0.0, metavar='S',
                        help='with --video: the first second written (default: %(default)s)')
    parser.add_argument('--out', required=True, metavar='BAG', help='rosbag2 folder to create')
    parser.add_argument('--format', choices=STORAGE_FORMATS, default='mcap',
                        help='storage format (default: %(default)s)')
    parser.add_argument('--input', choices=list(INPUT_KINDS), default='skeleton',
                        help='skeleton: emotion_node/SkeletonArray; markers: Azure Kinect '
                             'body_tracking_data MarkerArray; zed: ZED zed_msgs/ObjectsStamped; '
                             'yolo: yolo_ros yolo_msgs/DetectionArray; hri: ROS4HRI bodies, the '
                             'tracked ids (hri_msgs/IdsList) with each body\'s model frames on '
                             '/tf and a camera pose on /tf_static (zed, yolo and hri need their '
                             'message packages installed) (default: %(default)s)')
    parser.add_argument('--body-format', choices=list(ZED_BODY_FORMATS),
                        help='keypoint layout with --input zed (default: BODY_38)')
    parser.add_argument('--topic', help='topic name (default: the input kind\'s, in order: ' +
                        ', '.join(topic for _, topic in INPUT_KINDS.values()) + ')')
    parser.add_argument('--frame-id', default=DEFAULT_FRAME_ID,
                        help='header frame_id (default: %(default)s)')
    parser.add_argument('--first-body-id', type=int, default=1,
                        help='body id of the first clip; the next clips count up (default: 1)')
    parser.add_argument('--spacing', type=float, default=LANE_SPACING_M, metavar='M',
                        help='distance between people, metres (default: %(default)s)')
    parser.add_argument('--duration', type=float, metavar='S',
                        help='keep only the first S seconds of every clip')
    parser.add_argument('--stagger', type=float, default=0.0, metavar='S',
                        help='each next person comes into view S seconds after the one before '
                             '(and leaves as much later) (default: %(default)s)')
    parser.add_argument('--start-time', type=float, metavar='SEC',
                        help='stamp of the first frame, seconds since the epoch (default: now)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing bag')


def _expand(clips: list[str]) -> list[Path]:
    """Files as given; folders become their sorted *.bvh files."""
    paths: list[Path] = []
    for clip in clips:
        path = Path(clip)
        if path.is_dir():
            found = sorted(path.glob('*.bvh'))
            if not found:
                raise FileNotFoundError(f'no .bvh files in folder {path}')
            paths.extend(found)
        else:
            paths.append(path)
    return paths


def main(args: argparse.Namespace) -> int:
    """Read the clips (or the video), write the bag, print what was written."""
    if bool(args.clips) == bool(args.video):
        print('error: give BVH clips or --video FILE (one of them)', file=sys.stderr)
        return 2
    if args.video:
        return _video(args)
    if args.input in ('markers', 'zed') and args.first_body_id < 0:
        print(f'error: {args.input} body ids must be >= 0, got {args.first_body_id}',
              file=sys.stderr)
        return 2
    if args.body_format is not None and args.input != 'zed':
        print('error: --body-format goes with --input zed', file=sys.stderr)
        return 2
    if args.duration is not None and not args.duration > 0:
        print(f'error: --duration must be > 0 seconds, got {args.duration}', file=sys.stderr)
        return 2
    if args.spacing < 0:
        print(f'error: --spacing must be >= 0, got {args.spacing}', file=sys.stderr)
        return 2
    if not args.stagger >= 0:
        print(f'error: --stagger must be >= 0 seconds, got {args.stagger}', file=sys.stderr)
        return 2
    try:
        paths = _expand(args.clips)
        tracks = load_tracks(paths, args.first_body_id, args.spacing, args.duration,
                             args.stagger)
        start_ns = None if args.start_time is None else int(round(args.start_time * 1e9))
        summary = write_bag(args.out, tracks, args.format, args.input, args.topic, args.frame_id,
                            start_ns, args.overwrite, args.body_format)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    _print(summary)
    for path, track in zip(paths, tracks):
        print(f'  body {track.body_id}: {path.name} ({len(track.positions)} frames at '
              f'{track.fps:g} fps' + (f', from {track.start_s:g} s)' if track.start_s else ')'))
    return 0


def _video(args: argparse.Namespace) -> int:
    """Write a video's frames as camera images."""
    if args.video_start < 0 or (args.duration is not None and not args.duration > 0):
        print('error: --video-start must be >= 0 and --duration > 0 seconds', file=sys.stderr)
        return 2
    try:
        start_ns = None if args.start_time is None else int(round(args.start_time * 1e9))
        frame_id = None if args.frame_id == DEFAULT_FRAME_ID else args.frame_id
        summary = write_video_bag(args.out, args.video, args.format, args.topic, frame_id,
                                  start_ns, args.overwrite, args.video_start, args.duration)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    _print(summary)
    return 0


def _print(summary: BagSummary) -> None:
    """One line on what a bag holds."""
    also = f' and {", ".join(summary.others)}' if summary.others else ''
    people = f', {summary.bodies} people' if summary.bodies else ''
    print(f'wrote {summary.path} ({summary.storage}): {summary.messages} messages on '
          f'{summary.topic} [{summary.msgtype}]{also}{people}, {summary.duration_s:.2f} s')
