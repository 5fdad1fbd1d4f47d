"""Benchmark the tokenizer backends, the running node or the LLM explainer; print figures, write
JSON.

    emotion-node bench tokenizer --json FILE [...]
    emotion-node bench node [--flicker | --flicker-only] [--stages | --stages-only] [...]
    emotion-node bench llm [...]
    emotion-node bench soak [--persons 30 --rate 30 --minutes 30] [--json FILE] [...]
    emotion-node bench baseline [--model DIR ...] [--json FILE]
    emotion-node bench grammar [--windows 20] [--json FILE]
    emotion-node bench camera [--people 1 2 3] [--frames 80] [--cores 1] [--json FILE]

The measurements live in `emotion_node.bench` (one module per job); here are their options.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple


def _tokenizer_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node bench tokenizer`."""
    from emotion_node.bench.tokenizer import PERSONS

    parser.add_argument("--json", type=Path, required=True, help="write the results here")
    parser.add_argument("--model", type=Path, default=None,
                        help="model directory (default: the committed default model)")
    parser.add_argument("--fresh", action="store_true",
                        help="time a randomly initialised model of the default config instead")
    parser.add_argument("--repeats", type=int, default=300, help="timed calls per backend")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls per backend")
    parser.add_argument("--persons", type=int, nargs="+", default=list(PERSONS),
                        help="batch sizes (persons per call)")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads of both PyTorch and ONNX Runtime (default 1)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto adds the CUDA backends when torch sees a GPU")
    parser.add_argument("--ort-sweep", action="store_true",
                        help="also time ONNX Runtime session options (threads x level x spin)")


def _tokenizer(args: argparse.Namespace) -> int:
    """Run the tokenizer benchmark, print the table and write the JSON."""
    from emotion_node.bench import tokenizer as bench
    from emotion_node.model.model_files import ModelFileError

    if args.repeats < 1 or args.warmup < 0 or min(args.persons) < 1 or args.threads < 1:
        print(f"error: need --repeats >= 1, --warmup >= 0, --persons >= 1 and --threads >= 1, "
              f"got {args.repeats}, {args.warmup}, {args.persons}, {args.threads}",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="emotion-node-bench-") as tmp:
        try:
            model_dir, model_info = bench.resolve_model(args.model, args.fresh, tmp)
            result = bench.run(model_dir, model_info, args.persons, args.repeats, args.warmup,
                               args.threads, args.device, args.ort_sweep)
        except ModelFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    bench.print_table(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


def _node_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node bench node`."""
    parser.add_argument('--json', metavar='FILE', help='write the rows as JSON here')
    parser.add_argument('--persons', type=int, nargs='+', default=[1, 10, 30],
                        help='people per message, one row each (default: 1 10 30)')
    parser.add_argument('--rate', type=float, default=30.0, help='input rate in Hz (default 30)')
    parser.add_argument('--duration', type=float, default=10.0, help='measured seconds per row')
    parser.add_argument('--warmup', type=float, default=3.0, help='unmeasured seconds first')
    parser.add_argument('--llm', choices=('off', 'on', 'both'), default='off',
                        help='LLM explanations off, on, or a row each (default: off)')
    parser.add_argument('--llm-persons', type=int, nargs='+', default=[10],
                        help='people in the LLM-on rows, one row each (default 10)')
    parser.add_argument('--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='a node parameter for every row and the stages, as after -p '
                             '(repeatable; default: the package defaults)')
    parser.add_argument('--model', default='', help='tokenizer directory (default: package)')
    parser.add_argument('--backend', default='auto', help='tokenizer backend (default: auto)')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID for the node and this probe (default: $ROS_DOMAIN_ID)')
    parser.add_argument('--flicker', action='store_true',
                        help='also count label changes per minute with and without smoothing')
    parser.add_argument('--flicker-only', action='store_true', help='only the flicker part')
    parser.add_argument('--stages', action='store_true',
                        help='also time the node\'s work per message, stage by stage, in process')
    parser.add_argument('--stages-only', action='store_true', help='only the stages part')


def _node_params_and_domain(args: argparse.Namespace) -> Optional[Tuple[Dict[str, Any], int]]:
    """(--param values by ROS name, the ROS domain); None after printing a bad --param."""
    from emotion_node.ros.params import parse_assignment
    try:
        params = dict(parse_assignment(text) for text in args.param)
    except ValueError as err:
        print(f'error: --param: {err}', file=sys.stderr)
        return None
    domain = args.domain_id if args.domain_id is not None else \
        int(os.environ.get('ROS_DOMAIN_ID', '0'))
    return params, domain


def _node(args: argparse.Namespace) -> int:
    """Run the latency rows (and stages, and flicker), print them, write the JSON."""
    from emotion_node.bench import flicker, node

    if args.rate <= 0 or args.duration <= 0 or args.warmup < 0 or \
            min(args.persons + args.llm_persons) < 1:
        print('error: --rate, --duration and --persons must be positive', file=sys.stderr)
        return 2
    node_args = _node_params_and_domain(args)
    if node_args is None:
        return 2
    params, domain = node_args
    timing = {'duration_s': args.duration, 'warmup_s': args.warmup, 'model': args.model,
              'backend': args.backend, 'params': params}
    rows: List[Dict[str, Any]] = []
    plan = [] if args.flicker_only or args.stages_only else (
        [(n, False) for n in args.persons] * (args.llm != 'on')
        + [(n, True) for n in args.llm_persons] * (args.llm != 'off'))
    try:
        for persons, llm in plan:
            rows.append(node.measure(persons, args.rate, llm, domain, **timing))
            node.print_rows(rows[-1:])
        stage_rows = [node.stage_times(n, args.rate, **timing) for n in args.persons] \
            if args.stages or args.stages_only else []
        flicker_rows = flicker.flicker(args.model, args.backend, params=params) \
            if args.flicker or args.flicker_only else []
    except (RuntimeError, FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    node.print_rows([], stage_rows)
    flicker.print_rows(flicker_rows)
    if args.json:
        report = {'rows': rows, 'flicker': flicker_rows, 'stages': stage_rows, 'settings': {
            'duration_s': args.duration, 'warmup_s': args.warmup, 'cpus': os.cpu_count(),
            'model': args.model or 'package default', 'backend_requested': args.backend,
            'params': params}}
        Path(args.json).write_text(json.dumps(report, indent=2) + '\n')
    return 0


def _soak_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node bench soak`."""
    parser.add_argument('--json', metavar='FILE', help='write the report as JSON here')
    parser.add_argument('--persons', type=int, default=30, help='people present at once')
    parser.add_argument('--rate', type=float, default=30.0, help='input rate in Hz')
    parser.add_argument('--minutes', type=float, default=30.0, help='measured minutes')
    parser.add_argument('--warmup', type=float, default=30.0,
                        help='unmeasured seconds first (the LLM loads meanwhile)')
    parser.add_argument('--llm', choices=('on', 'off'), default='on',
                        help='LLM explanations (default: on)')
    parser.add_argument('--churn', type=float, default=15.0, metavar='S',
                        help='every S seconds some people leave and others (new or returning '
                             'ids) arrive (default 15)')
    parser.add_argument('--slice-minutes', type=float, default=5.0,
                        help='latency and CPU per slice of this many minutes (default 5)')
    parser.add_argument('--model', default='', help='tokenizer directory (default: package)')
    parser.add_argument('--backend', default='auto', help='tokenizer backend (default: auto)')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID for the node and this probe (default: $ROS_DOMAIN_ID)')
    parser.add_argument('--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='a node parameter, as after -p (repeatable)')


def _soak(args: argparse.Namespace) -> int:
    """Run the soak, print the report, write the JSON; 1 when the node crashed."""
    from emotion_node.bench import soak

    if args.persons < 1 or args.rate <= 0 or args.minutes <= 0 or args.warmup < 0 or \
            args.churn <= 0 or args.slice_minutes <= 0:
        print('error: --persons, --rate, --minutes, --churn and --slice-minutes must be '
              'positive', file=sys.stderr)
        return 2
    node_args = _node_params_and_domain(args)
    if node_args is None:
        return 2
    params, domain = node_args
    try:
        report = soak.soak(args.persons, args.rate, args.minutes, domain, llm=args.llm == 'on',
                           churn_s=args.churn, slice_minutes=args.slice_minutes,
                           warmup_s=args.warmup, model=args.model, backend=args.backend,
                           params=params, progress=lambda text: print(text, flush=True))
    except (RuntimeError, FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    soak.print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + '\n')
    return 1 if report['crashed'] else 0


def _llm_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node bench llm`."""
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    parser.add_argument("--model", type=Path, default=None,
                        help="tokenizer folder (default: models/default)")
    parser.add_argument("--explainer", type=Path, default=None,
                        help="explainer folder (default: <model>/explainer)")
    parser.add_argument("--llm", default=None, help="LLM under the adapter (default: as trained)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="auto: the CPU, and CUDA too when present")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--runs", type=int, default=10, help="explanations per row")
    parser.add_argument("--decoding", choices=("grammar", "free", "both"), default="grammar",
                        help="decode under the window's grammar (the default), freely (as "
                             "before it), or a row each, side by side")


def _llm(args: argparse.Namespace) -> int:
    """Run the LLM benchmark, print a table, write JSON rows."""
    import torch

    from emotion_node.bench import llm
    from emotion_node.model.model_files import default_model_dir

    if args.runs < 1 or args.threads < 1:
        print(f"bench llm: --runs and --threads must be >= 1, got {args.runs}, {args.threads}",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    try:
        rows = llm.rows(args.model or default_model_dir(), args.explainer, args.llm,
                        args.device, args.runs,
                        ("grammar", "free") if args.decoding == "both" else (args.decoding,))
    except (OSError, ValueError, RuntimeError) as err:
        print(f"bench llm: {err}", file=sys.stderr)
        return 1
    llm.print_rows(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


# target -> (its options, its run)
def _baseline_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node bench baseline`."""
    parser.add_argument('--model', action='append', default=[], metavar='DIR',
                        help='tokenizer directory (repeatable: each scores the Emotion-Gait '
                             'walkers it held out, `train --hold-out`; default: the package '
                             'model, whose walkers it trained on)')
    parser.add_argument('--segment', type=float, default=8.0,
                        help='seconds each walk is looped for (default 8)')
    parser.add_argument('--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='a node parameter, as after -p (repeatable)')
    parser.add_argument('--backend', default='auto', help='tokenizer backend (default: auto)')
    parser.add_argument('--data', type=Path, nargs='+', default=None, metavar='DIR',
                        help='data roots (default: the shared copies; Emotion-Gait needed)')
    parser.add_argument('--json', metavar='FILE', help='write the report as JSON here')


def _baseline(args: argparse.Namespace) -> int:
    """A walker's four walks in a row, person baselines off and on."""
    from emotion_node.bench import baseline
    from emotion_node.ros.params import parse_assignment

    if args.segment <= 0:
        print('error: --segment must be positive', file=sys.stderr)
        return 2
    try:
        params = dict(parse_assignment(text) for text in args.param)
        report = baseline.measure(args.model or [''], args.data, args.backend, args.segment,
                                  params)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    if not report['rows'][0]['walkers']:
        print('error: no Emotion-Gait walker with four acted walks among the models\' '
              'held-out ones', file=sys.stderr)
        return 1
    baseline.print_rows(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + '\n')
    return 0


def _grammar_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node bench grammar`."""
    from emotion_node.bench.grammar import LIBRARIES

    parser.add_argument('--windows', type=int, default=20,
                        help='real windows, one grammar each (default 20)')
    parser.add_argument('--libraries', nargs='+', choices=LIBRARIES, default=list(LIBRARIES),
                        help='libraries to compare (default: all five)')
    parser.add_argument('--json', metavar='FILE', help='write the rows as JSON here')


def _grammar(args: argparse.Namespace) -> int:
    """Structured-generation libraries on the explainer's per-window grammar."""
    from emotion_node.bench import grammar

    if args.windows < 1:
        print('error: --windows must be >= 1', file=sys.stderr)
        return 2
    try:
        rows = grammar.measure(args.windows, tuple(args.libraries))
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    grammar.print_rows(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + '\n')
    return 0



def _camera_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node bench camera`."""
    parser.add_argument('--video', type=Path, default=None,
                        help='the test video (default: tests/data/video, or '
                             '$EMOTION_NODE_TEST_VIDEO)')
    parser.add_argument('--people', type=int, nargs='+', default=[1, 2, 3],
                        help='walkers per image, one row each (default: 1 2 3)')
    parser.add_argument('--frames', type=int, default=80, help='images per row (default 80)')
    parser.add_argument('--cores', type=int, default=1, help='CPUs the process is pinned to')
    parser.add_argument('--json', type=Path, default=None, help='write the rows as JSON here')


def _camera(args: argparse.Namespace) -> int:
    """Run the camera benchmark and print its table."""
    from emotion_node.bench import camera as bench
    from emotion_node.camera.video import sample_video
    video = args.video or sample_video()
    if not video.is_file():
        print(f'error: video not found: {video}', file=sys.stderr)
        return 1
    if not 1 <= args.frames <= 80 or not 1 <= args.cores <= len(os.sched_getaffinity(0)):
        print(f'error: need 1 <= --frames <= 80 (each walker\'s stretch in view) and 1 <= '
              f'--cores <= {len(os.sched_getaffinity(0))}', file=sys.stderr)
        return 2
    try:
        rows = [bench.measure(video, k, args.frames, args.cores) for k in args.people]
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    bench.print_rows(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + '\n', encoding='utf-8')
    return 0

TARGETS: Dict[str, tuple[Callable[[argparse.ArgumentParser], None],
                         Callable[[argparse.Namespace], int]]] = {
    'tokenizer': (_tokenizer_arguments, _tokenizer),
    'node': (_node_arguments, _node),
    'llm': (_llm_arguments, _llm),
    'soak': (_soak_arguments, _soak),
    'baseline': (_baseline_arguments, _baseline),
    'camera': (_camera_arguments, _camera),
    'grammar': (_grammar_arguments, _grammar),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one sub-subcommand per benchmark target."""
    sub = parser.add_subparsers(dest='target', metavar='TARGET', required=True)
    for name, (arguments, run) in TARGETS.items():
        target_parser = sub.add_parser(name, help=f'benchmark the {name}')
        arguments(target_parser)
        target_parser.set_defaults(bench_main=run)


def main(args: argparse.Namespace) -> int:
    """Run the chosen benchmark."""
    return int(args.bench_main(args) or 0)
