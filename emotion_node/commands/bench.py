"""Benchmark the tokenizer backends, the running node, or the LLM explainer; print figures, write JSON."""
from __future__ import annotations

import argparse
import importlib

TARGETS = {
    'tokenizer': 'emotion_node.bench.tokenizer',
    'node': 'emotion_node.bench.node',
    'llm': 'emotion_node.bench.llm',
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one sub-subcommand per benchmark target."""
    sub = parser.add_subparsers(dest='target', metavar='TARGET', required=True)
    for name, module_name in TARGETS.items():
        target_parser = sub.add_parser(name, help=f'benchmark the {name}')
        module = importlib.import_module(module_name)
        module.add_arguments(target_parser)
        target_parser.set_defaults(bench_main=module.main)


def main(args: argparse.Namespace) -> int:
    """Run the chosen benchmark."""
    return int(args.bench_main(args) or 0)
