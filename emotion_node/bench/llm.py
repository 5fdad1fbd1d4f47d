"""Benchmark the LLM explainer: seconds per explanation and decoded tokens per second.

Each run is the node's request on one real window (explain the tokenizer's label from the
window's tokens and cue hint), batch 1, greedy, KV cache. On CUDA a second row uses a static
cache in bfloat16. Rows: {"device", "tokens_per_s", "s_per_explanation", ...}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def _inputs(model_dir: Path, runs: int) -> list[tuple[tuple, str, np.ndarray, str]]:
    """`runs` real windows spread over the data: (tokens, head label, cues, content)."""
    from emotion_node.model.labels import EMOTION_STYLES
    from emotion_node.model.tokenizer import TokenizerConfig
    from emotion_node.training.train_explainer import build_window_table
    from emotion_node.model.model_files import read_config

    labels = TokenizerConfig.from_dict(read_config(model_dir)).labels
    table = build_window_table(model_dir, progress=False)
    rows = np.where(np.isin(table.styles, EMOTION_STYLES))[0]
    rows = rows[np.linspace(0, len(rows) - 1, runs).round().astype(int)]
    return [(tuple(t[r] for t in (table.temporal, table.spatial, table.semantic)),
             labels[int(table.probs[r].argmax())], table.cues[r], str(table.contents[r]))
            for r in rows]


def measure(explainer: Any, inputs: list, device: str, **generate_kwargs: Any) -> dict:
    """Time one explanation per input (after one warm-up); return a result row."""
    import torch

    def once(tokens, label, cues, content) -> int:
        prompt = explainer.make_prompt("explain", label, explainer.zscores(cues, content))
        return explainer.generate(tokens, [prompt], **generate_kwargs)[1][0]

    once(*inputs[0])
    seconds, counts = [], []
    for item in inputs:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        counts.append(once(*item))
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return {"device": device, "tokens_per_s": round(sum(counts) / sum(seconds), 1),
            "s_per_explanation": round(float(np.mean(seconds)), 3),
            "p90_s": round(float(np.percentile(seconds, 90)), 3),
            "mean_new_tokens": round(float(np.mean(counts)), 1), "runs": len(inputs)}


def _rows(args: argparse.Namespace, model_dir: Path) -> list[dict]:
    """Every benchmark row this machine can run."""
    import torch

    from emotion_node.model.explainer import Explainer
    from emotion_node.model.model_files import default_explainer_dir

    inputs = _inputs(model_dir, args.runs)
    explainer_dir = args.explainer or default_explainer_dir(model_dir)
    devices = ["cpu", "cuda"] if args.device == "auto" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        if args.device == "cuda":
            raise RuntimeError("--device cuda: torch sees no CUDA device")
        devices.remove("cuda")
    rows = []
    for device in devices:
        explainer = Explainer.load(explainer_dir, llm=args.llm, device=device)
        row = measure(explainer, inputs, device)
        row.update(dtype="float32", cache="dynamic",
                   threads=torch.get_num_threads() if device == "cpu" else None)
        rows.append(row)
        if device == "cuda":
            del explainer
            fast = Explainer.load(explainer_dir, llm=args.llm, device=device, dtype="bfloat16")
            row = measure(fast, inputs, device, cache_implementation="static")
            row.update(dtype="bfloat16", cache="static", threads=None)
            rows.append(row)
    return rows


def main(args: argparse.Namespace) -> int:
    """Run the benchmark, print a table, write JSON rows."""
    import torch

    from emotion_node.model.model_files import default_model_dir

    if args.runs < 1 or args.threads < 1:
        print(f"bench llm: --runs and --threads must be >= 1, got {args.runs}, {args.threads}",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    try:
        rows = _rows(args, args.model or default_model_dir())
    except (OSError, ValueError, RuntimeError) as err:
        print(f"bench llm: {err}", file=sys.stderr)
        return 1
    for row in rows:
        print(f"{row['device']:>5} {row['dtype']:>9} {row['cache']:>8}: "
              f"{row['s_per_explanation']:.3f} s/explanation, {row['tokens_per_s']:.1f} tokens/s "
              f"({row['mean_new_tokens']} tokens, {row['runs']} runs)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0
