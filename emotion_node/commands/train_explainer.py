"""Train the LLM explainer on skeleton-language pairs built from the data (resumable, on CPU).

    emotion-node train-explainer --out models/default/explainer [--run-dir runs/explainer]
    emotion-node train-explainer --fold-tokenizer DIR

The recipe is in `emotion_node.training.train_explainer`; a run resumes from the checkpoint in
--run-dir unless --fresh, and refuses one saved with other settings. For the clean held-out
evaluation (a fold tokenizer and explainer, then their scores) in one command, use
`emotion-node evaluate-llm --fold DIR`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node train-explainer`."""
    from emotion_node.model.llm import DEFAULT_LLM
    from emotion_node.training.train_explainer import ExplainerTrainConfig

    defaults = ExplainerTrainConfig()
    parser.add_argument("--out", type=Path, default=None, help="explainer output folder")
    parser.add_argument("--tokenizer", type=Path, default=None,
                        help="frozen skeleton tokenizer folder (default: models/default); with "
                             "--fold-tokenizer, the tokenizer whose recipe to follow")
    parser.add_argument("--data", type=Path, nargs="+", action="extend", default=None,
                        metavar="ROOT", help="dataset roots (default: every shared copy)")
    parser.add_argument("--llm", default=None,
                        help=f"LLM: {DEFAULT_LLM!r}, a .gguf or a HF folder")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/explainer"),
                        help="checkpoint folder (resumes from it)")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--holdout", nargs="*", default=list(defaults.holdout),
                        help="actions left out of training, in every dataset (default: "
                             f"{' '.join(defaults.holdout)})")
    for name in ("stage1_steps", "stage2_steps", "batch_size", "threads", "seed"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int,
                            default=getattr(defaults, name))
    parser.add_argument("--label-weight", type=float, default=defaults.label_weight,
                        help="loss weight of the label ids of recognise answers (default "
                             f"{defaults.label_weight:g})")
    parser.add_argument("--fold-tokenizer", type=Path, default=None, metavar="DIR",
                        help="only train a tokenizer without the held-out contents into DIR")
    parser.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace) -> int:
    """Train and save an explainer (or a fold tokenizer); print a JSON summary."""
    if args.out is None and args.fold_tokenizer is None:
        print("emotion-node train-explainer: --out is required (or --fold-tokenizer DIR)",
              file=sys.stderr)
        return 2
    import torch

    from emotion_node.training.train_explainer import (
        ExplainerTrainConfig, train_and_save, train_fold_tokenizer)

    torch.set_num_threads(args.threads)
    progress = not args.no_progress
    try:
        cfg = ExplainerTrainConfig(seed=args.seed, holdout=tuple(args.holdout),
                                   stage1_steps=args.stage1_steps,
                                   stage2_steps=args.stage2_steps, batch_size=args.batch_size,
                                   threads=args.threads, label_weight=args.label_weight)
        if args.fold_tokenizer is not None:
            path = train_fold_tokenizer(args.data, cfg.holdout, args.fold_tokenizer,
                                        args.tokenizer, args.threads, progress)
            print(f"fold tokenizer written to {path}")
            return 0
        history, warning = train_and_save(args.out, cfg, args.tokenizer, args.data,
                                          args.run_dir, args.llm, resume=not args.fresh,
                                          progress=progress)
    except (FileNotFoundError, ValueError) as err:
        print(f"emotion-node train-explainer: {err}", file=sys.stderr)
        return 2
    if warning:
        print(f"emotion-node train-explainer: warning: {warning}", file=sys.stderr)
    history.pop("losses")
    print(json.dumps({"out": str(args.out), **history}, indent=2))
    return 0
