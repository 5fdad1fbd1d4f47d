"""The `emotion-node` command line: parse, hand over to one command module, return its exit code.

Each subcommand lives in `emotion_node/commands/<name>.py` with `add_arguments(parser)` and
`main(args) -> int`; modules are imported only when their command runs, so `emotion-node bag` never
pays for torch and `emotion-node train` never needs ROS.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

# name -> (module, one-line help). Help lives here so `emotion-node --help` imports nothing heavy.
COMMANDS: dict[str, tuple[str, str]] = {
    'demo': ('emotion_node.commands.demo',
             'start the node and replay real recordings of several people'),
    'run': ('emotion_node.commands.run', 'run the emotion node (takes --ros-args like ros2 run)'),
    'camera': ('emotion_node.commands.camera',
               'run the camera node: images or a video in, 3D skeletons on /skeletons out'),
    'bag': ('emotion_node.commands.bag',
            'convert BVH clips into a rosbag2 file of skeleton messages'),
    'replay': ('emotion_node.commands.replay', 'publish a rosbag2 file at its recorded timing'),
    'train': ('emotion_node.commands.train', 'train the skeleton tokenizer'),
    'train-explainer': ('emotion_node.commands.train_explainer',
                        'train the LLM explainer on the tokenizer\'s tokens'),
    'evaluate': ('emotion_node.commands.evaluate', 'score a trained model on a folder of clips'),
    'evaluate-llm': ('emotion_node.commands.evaluate_llm',
                     'score the LLM explainer on held-out actions'),
    'evaluate-camera': ('emotion_node.commands.evaluate_camera',
                        'what monocular camera skeletons cost the labels against motion capture'),
    'export': ('emotion_node.commands.export',
               'export the tokenizer to ONNX (and a TensorRT engine)'),
    'explain': ('emotion_node.commands.explain',
                'explain the emotion in a BVH file or bag, in words'),
    'bench': ('emotion_node.commands.bench', 'benchmark the tokenizer, the node or the LLM'),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Build the parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog='emotion-node', description='Emotion recognition from 3D skeleton motion for ROS 2.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    chosen = next((a for a in argv if not a.startswith('-')), None)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(handler=module.main)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one subcommand and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # `run` hands everything after it to rclpy untouched (--ros-args -p ... -r ...).
    if argv[:1] == ['run']:
        from emotion_node.commands import run
        return run.main_with_ros_args(argv[1:])
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, 'handler', None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
