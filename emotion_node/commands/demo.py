"""Start the node and replay real recordings of several people, printing what it says.

    emotion-node demo [--duration 30] [--people 4] [--content walk]
    emotion-node demo --video FILE [--duration 30]

Real clips of the motion dataset, one person per emotion side by side, replayed to the node;
its EmotionState stream printed as it arrives (`emotion_node.ros.demo`). With --video, the
people of a video instead, through the camera node (`emotion-node camera`).
"""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from emotion_node.ros import demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node demo`."""
    parser.add_argument('--duration', type=float, default=30.0,
                        help='seconds to watch once the node reports people (default: '
                             '%(default)s)')
    parser.add_argument('--people', type=int, default=4,
                        choices=range(1, len(demo.DEMO_STYLES) + 1), metavar='N',
                        help='people side by side, one emotion each (default 4)')
    parser.add_argument('--content', default='walk',
                        help='what they do: walk, walk-back, bow, bye, dash, ... (default walk)')
    parser.add_argument('--model', default='', help='tokenizer directory (default: package)')
    parser.add_argument('--backend', default='', help='auto, torch, onnxruntime or tensorrt')
    parser.add_argument('--llm', choices=('on', 'off'), default=None,
                        help='explanations on or off (default: the package parameters file)')
    parser.add_argument('--video', type=Path, default=None,
                        help='a video of people instead of the recordings (through the camera '
                             'node, played in a loop)')
    parser.add_argument('--every', type=float, default=3.0,
                        help='repeat each person\'s line at least this often, in seconds')


def _node_parameters(args: argparse.Namespace) -> Dict[str, Any]:
    """Node parameters set by the demo's options."""
    out: Dict[str, Any] = {}
    if args.model:
        out['model.path'] = str(Path(args.model).expanduser().resolve())
    if args.backend:
        out['model.backend'] = args.backend
    if args.llm is not None:
        out['llm.enabled'] = args.llm == 'on'
    return out


def main(args: argparse.Namespace) -> int:
    """Run the demo (recordings, or a video through the camera node); print why when it
    cannot."""
    start: Callable[[], Optional[str]]
    if args.video is not None:
        video = args.video.expanduser()
        if not video.is_file():
            print(f'emotion-node demo: video file not found: {args.video}', file=sys.stderr)
            return 2
        start = partial(demo.run_video, video.resolve(), args.duration, args.every,
                        _node_parameters(args), [])
    else:
        try:
            clips = demo.demo_clips(args.content, args.people)
        except (FileNotFoundError, ValueError) as err:
            print(f'emotion-node demo: {err}', file=sys.stderr)
            return 1
        start = partial(demo.run, clips, args.content, args.duration, args.every,
                        _node_parameters(args))
    if args.duration <= 0:
        print('emotion-node demo: --duration must be positive', file=sys.stderr)
        return 2
    try:
        log = start()
    except ImportError as err:  # ROS 2, the built messages or rosbags missing
        print(f'emotion-node demo: {err}', file=sys.stderr)
        return 1
    if log is not None:
        print(f'emotion-node demo: the node published nothing; the logs:\n{log}',
              file=sys.stderr)
        return 1
    return 0
