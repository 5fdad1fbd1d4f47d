"""Explain the emotion in a BVH file window by window: label, confidence and explanation in words.

The tokenizer labels each window; the LLM reads the window itself, then explains the label from
the window's skeleton tokens and its measured cues, exactly as the node does
(`emotion_node.runtime.explain_windows`). The table shows the LLM's own reading after the label.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node explain`."""
    parser.add_argument("file", type=Path, help="BVH file (one person)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--model", type=Path, default=None,
                        help="tokenizer folder (default: models/default)")
    parser.add_argument("--explainer", type=Path, default=None,
                        help="explainer folder (default: <model>/explainer)")
    parser.add_argument("--llm", default=None,
                        help="LLM under the adapter: name, .gguf or HF folder "
                             "(default: the one it was trained on)")
    parser.add_argument("--backend", default="torch",
                        choices=("auto", "torch", "onnxruntime", "tensorrt"))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--stride", type=float, default=1.0, help="seconds between windows")
    parser.add_argument("--max-windows", type=int, default=0, help="explain at most N (0: all)")
    parser.add_argument("--no-hints", action="store_true",
                        help="do not show the LLM the measured cues (tokens only)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")


def _load(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(backend, explainer, preprocess config) from the arguments."""
    import torch

    from emotion_node.model.explainer import Explainer
    from emotion_node.model.model_files import default_explainer_dir
    from emotion_node.runtime.loading import load_model

    torch.set_num_threads(args.threads)
    # The node's loader: the same preprocessing source (config, or an ONNX-only export's
    # metadata) and the same window check.
    model = load_model(args.model, args.backend, args.device)
    explainer = Explainer.load(args.explainer or default_explainer_dir(model.directory),
                               llm=args.llm, device=args.device, tokenizer_dir=model.directory)
    return model.backend, explainer, model.preprocess


def main(args: argparse.Namespace) -> int:
    """Explain one BVH file; print a table or JSON."""
    from emotion_node.runtime.explain_windows import explain_windows
    from emotion_node.skeleton.bvh import read_bvh_canonical
    from emotion_node.skeleton.preprocess import clip_windows

    if args.file.suffix.lower() != ".bvh":
        print(f"explain: {args.file} is not a .bvh file (bags: use the node's replay)",
              file=sys.stderr)
        return 2
    if not args.stride > 0 or args.max_windows < 0 or args.threads < 1:
        print(f"explain: need --stride > 0, --max-windows >= 0 and --threads >= 1, got "
              f"{args.stride}, {args.max_windows}, {args.threads}", file=sys.stderr)
        return 2
    try:
        positions, mask, fps = read_bvh_canonical(args.file)
        backend, explainer, preprocess = _load(args)
    except (OSError, ValueError, RuntimeError) as err:  # RuntimeError: backend/model file
        print(f"explain: {err}", file=sys.stderr)
        return 1
    windows, masks, ends = clip_windows(positions, mask, fps, preprocess, stride_s=args.stride)
    if args.max_windows:
        windows, masks, ends = (a[:args.max_windows] for a in (windows, masks, ends))
    rows = explain_windows(windows, masks, backend, explainer, preprocess,
                           hints=not args.no_hints)
    for row, end in zip(rows, ends):
        row["end_s"] = round(float(end), 3)
    _print(args, rows)
    return 0


def _print(args: argparse.Namespace, rows: Sequence[dict[str, Any]]) -> None:
    """A readable table, or one JSON document with --json."""
    from emotion_node.model.labels import hri_label

    if args.json:
        print(json.dumps({"file": str(args.file), "person": 0, "windows": list(rows)}, indent=2))
        return
    for row in rows:
        reading = hri_label(row["reading"]) if row["reading"] else "-"
        print(f"{row['end_s']:7.2f} s  {row['hri_label']:<14} {row['confidence']:.2f}  "
              f"(reads {reading}) {row['explanation']}")
