"""Score the LLM explainer on held-out actions: recognition, faithfulness, and a template baseline.

    emotion-node evaluate-llm [--model DIR] [--explainer DIR] [--contents ACTION ...] [--json F]
    emotion-node evaluate-llm --fold runs/llm_fold [--json F]
    emotion-node evaluate-llm --fold runs/llm_fold --modes reading   # the reading alone
    emotion-node evaluate-llm --fold runs/llm_fold --decoding free   # as before the grammar

Prints the report (`emotion_node.evaluation.evaluate_llm`) as JSON. `--fold DIR` is the clean
held-out evaluation in one command: it first trains (or keeps, or resumes) a tokenizer and an
explainer without the held-out actions in DIR, with the recipes recorded in models/default and
its explainer. For the LLM's scores on any folder of clips, beside the tokenizer's, use
`emotion-node evaluate --data DIR --llm`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node evaluate-llm`."""
    parser.add_argument("--explainer", type=Path, default=None,
                        help="explainer folder (default: <model>/explainer)")
    parser.add_argument("--model", type=Path, default=None,
                        help="tokenizer folder (default: models/default)")
    parser.add_argument("--data", type=Path, nargs="+", action="extend", default=None,
                        metavar="ROOT",
                        help="dataset roots (default: $EMOTION_NODE_DATA, ':'-separated, or "
                             "every shared copy)")
    parser.add_argument("--contents", nargs="*", default=None,
                        help="actions to score (default: those the explainer held out)")
    parser.add_argument("--max-windows", type=int, default=0,
                        help="score at most N windows spread over them (0: all)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled answers")
    parser.add_argument("--temperature", type=float, default=None,
                        help="sampling temperature of the explanations (default: the "
                             "explainer's own; 0: greedy)")
    parser.add_argument("--decoding", choices=("grammar", "free"), default=None,
                        help="how explanations are decoded (default: the explainer's own; "
                             "grammar: only what the window's measurements support, free: "
                             "unconstrained, as before the grammar)")
    parser.add_argument("--fold", type=Path, default=None, metavar="DIR",
                        help="train (or reuse) a tokenizer and an explainer without the "
                             "held-out actions in DIR, with the recipes of --model (default: "
                             "models/default) and its explainer, and score them; training uses "
                             "--train-threads")
    parser.add_argument("--train-threads", type=int, default=1,
                        help="torch threads for --fold training (default 1: bit-exact, and "
                             "faster on shared cores)")
    parser.add_argument("--modes", nargs="+", default=None, metavar="MODE",
                        help="runs to score (default: all of explain_label recognise "
                             "tokens_only; the first two are always needed), or 'reading' "
                             "alone: only the explainer's reading against the head, in minutes")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")


def main(args: argparse.Namespace) -> int:
    """Evaluate and print the report."""
    from emotion_node.evaluation.evaluate_llm import MODES, evaluate_llm, fold_pair

    if args.fold is not None and args.explainer is not None:
        print("emotion-node evaluate-llm: --fold trains its own explainer; leave out "
              "--explainer", file=sys.stderr)
        return 2
    try:
        model, explainer = args.model, args.explainer
        if args.fold is not None:
            model, explainer = fold_pair(args.fold, args.data, args.model, args.train_threads)
        report = evaluate_llm(explainer, model, args.data, args.contents,
                              max_windows=args.max_windows, threads=args.threads,
                              seed=args.seed, temperature=args.temperature,
                              decoding=args.decoding,
                              modes=tuple(args.modes) if args.modes else MODES)
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
        print(f"emotion-node evaluate-llm: {err}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0
