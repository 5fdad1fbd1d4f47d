"""What monocular 3D joints cost the labels: the camera's noise measured on the real test video,
then motion-capture clips reduced to what the camera node gives and labelled by the model.

    emotion-node evaluate-camera [--video FILE] [--model DIR] [--data ROOT ...] [--json F]

Prints the noise measured on the video and one table per dataset (`emotion_node.evaluation
.monocular`: each step adds one difference between the camera's skeletons and motion capture).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node evaluate-camera`."""
    parser.add_argument('--video', type=Path, default=None,
                        help='video with its hand annotations beside it (default: '
                             'tests/data/video/one-by-one-person-detection.mp4)')
    parser.add_argument('--model', type=Path, default=None,
                        help='tokenizer folder (default: models/default)')
    parser.add_argument('--data', type=Path, nargs='+', action='extend', default=None,
                        metavar='ROOT', help='dataset roots (default: $EMOTION_NODE_DATA, '
                                             'or every shared copy)')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--seed', type=int, default=0, help='seed of the damage draws')
    parser.add_argument('--json', type=Path, default=None, help='write the results here')


def main(args: argparse.Namespace) -> int:
    """Measure the noise, run the study per dataset, print the tables."""
    from emotion_node.camera.annotations import annotations_of
    from emotion_node.camera.video import sample_video
    video = args.video or sample_video()
    annotations = annotations_of(video)
    for path in (video, annotations):
        if not path.is_file():
            print(f'emotion-node evaluate-camera: not found: {path}', file=sys.stderr)
            return 1
    import torch

    from emotion_node.bench.camera import video_noise
    from emotion_node.camera.annotations import read_intervals
    from emotion_node.evaluation.monocular import CameraNoise
    from emotion_node.model.tokenizer import load_tokenizer
    torch.set_num_threads(args.threads)
    measured = video_noise(video, read_intervals(annotations))
    _print_measured(video.name, measured)
    noise = CameraNoise(measured['joint_jitter_m'], tuple(measured['root_jitter_m']),
                        video_rate_hz=measured['video_fps'])
    try:
        model, config = load_tokenizer(args.model)
    except FileNotFoundError as err:
        print(f'emotion-node evaluate-camera: {err}', file=sys.stderr)
        return 1
    per_dataset = _study_per_dataset(model, config, args.data, noise, args.seed)
    if args.json:
        results = {'video': str(video), 'noise': measured, 'datasets': per_dataset}
        args.json.write_text(json.dumps(results, indent=2) + '\n', encoding='utf-8')
    return 0


def _print_measured(name: str, measured: Dict[str, Any]) -> None:
    """The tracking share per person, the speed and the noise, as measured on the video."""
    print(f'tracking on {name}:', flush=True)
    for who, row in measured['tracking']['people'].items():
        print(f'  person {who}: {row["followed"]} of {row["frames"]} frames fully in view '
              f'under one id ({100 * row["share"]:.1f} %), ids {row["ids"]}', flush=True)
    empty = measured['tracking']['false_people_share_of_empty_frames']
    print(f'  empty room: someone found in {100 * empty:.1f} % of its frames', flush=True)
    print(f'  speed: {measured["frames_per_cpu_second_one_core"]:.1f} frames per CPU second '
          f'on one core, the whole video', flush=True)
    noise_only = {k: v for k, v in measured.items()
                  if k not in ('tracking', 'frames_per_cpu_second_one_core')}
    print(f'camera noise per frame: {json.dumps(noise_only)}', flush=True)


def _study_per_dataset(model: Any, config: Any, data: Any, noise: Any, seed: int
                       ) -> Dict[str, Any]:
    """The monocular study on each dataset's emotion clips, each table printed as it is done."""
    from emotion_node.evaluation.monocular import markdown, study
    from emotion_node.skeleton.dataset import emotion_clips, index_clips
    from emotion_node.training.data import load_records
    clips = index_clips(data)
    chosen = [clips[i] for i in emotion_clips(clips, config.labels)]
    out: Dict[str, Any] = {}
    for dataset in sorted({c.dataset for c in chosen}):
        records = load_records([c for c in chosen if c.dataset == dataset])
        out[dataset] = study(model, config, records, noise, seed)
        print(f'\n{dataset} ({out[dataset]["clips"]} clips)\n{markdown(out[dataset])}',
              flush=True)
    return out
