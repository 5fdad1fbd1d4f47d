"""Score the LLM explainer on held-out actions: recognition, faithfulness, and a template baseline.

    emotion-node evaluate-llm [--model DIR] [--explainer DIR] [--contents ACTION ...] [--json F]

Prints the report (`emotion_node.evaluation.evaluate_llm`) as JSON. For the LLM's scores on any
folder of clips, beside the tokenizer's, use `emotion-node evaluate --data DIR --llm`.
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
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")


def main(args: argparse.Namespace) -> int:
    """Evaluate and print the report."""
    from emotion_node.evaluation.evaluate_llm import evaluate_llm

    try:
        report = evaluate_llm(args.explainer, args.model, args.data, args.contents,
                              max_windows=args.max_windows, threads=args.threads)
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
        print(f"emotion-node evaluate-llm: {err}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0
