"""Export the tokenizer to ONNX (and a TensorRT engine)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the export options."""
    parser.add_argument("--model", type=Path, default=None,
                        help="model directory with model.safetensors + config.json "
                             "(default: the committed default model)")
    parser.add_argument("--out", type=Path, default=None,
                        help="ONNX file to write (default: MODEL/model.onnx)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 18)")
    parser.add_argument("--tensorrt", action="store_true",
                        help="also build (or reuse) the cached TensorRT engine; needs a GPU")
    parser.add_argument("--fp16", action="store_true", help="build the TensorRT engine in fp16")
    parser.add_argument("--max-persons", type=int, default=32,
                        help="largest batch the TensorRT engine accepts")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="TensorRT engine cache (default: ~/.cache/emotion_node/tensorrt)")
    parser.add_argument("--force", action="store_true",
                        help="re-export and rebuild even when the files are current")


def _export(args: argparse.Namespace, model_dir: Path) -> Path:
    """Write the ONNX file unless it is current; print what happened."""
    from emotion_node.runtime.export import (
        DEFAULT_OPSET, export_onnx, onnx_stale_reason, read_onnx_metadata)
    from emotion_node.model.model_files import ONNX_FILE

    out = args.out if args.out is not None else model_dir / ONNX_FILE
    opset = DEFAULT_OPSET if args.opset is None else args.opset
    reason = "--force" if args.force else onnx_stale_reason(out, model_dir)
    if reason is None and read_onnx_metadata(out).get("opset") != str(opset):
        reason = f"opset {opset} requested"
    if reason is None:
        print(f"{out} is current (exported from these weights); use --force to re-export")
        return out
    export_onnx(model_dir, out, opset)
    meta = read_onnx_metadata(out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB, opset {meta['opset']}, "
          f"labels {', '.join(json.loads(meta['labels']))})")
    return out


def _build_engine(args: argparse.Namespace, onnx_path: Path) -> int:
    """Build or reuse the TensorRT engine for `onnx_path`; return an exit code."""
    try:
        import tensorrt as trt
        import torch
    except ImportError as exc:
        print(f"error: --tensorrt needs the tensorrt and torch packages ({exc})", file=sys.stderr)
        return 1
    if not torch.cuda.is_available():
        print("error: --tensorrt needs a CUDA GPU, and torch sees none", file=sys.stderr)
        return 1
    from emotion_node.runtime.tensorrt_engine import load_or_build_engine

    loaded = load_or_build_engine(trt, onnx_path, torch.cuda.get_device_name(),
                                  args.max_persons, args.fp16, args.force, args.cache_dir)
    state = "built" if loaded.built else "reused (cache key unchanged)"
    print(f"TensorRT engine {loaded.path}: {state}")
    return 0


def main(args: argparse.Namespace) -> int:
    """Export the ONNX file, then optionally the TensorRT engine."""
    from emotion_node.model.model_files import ModelFileError, default_model_dir
    from emotion_node.runtime.base import BackendUnavailable

    if args.fp16 and not args.tensorrt:
        print("error: --fp16 applies to the TensorRT engine; add --tensorrt", file=sys.stderr)
        return 2
    if args.max_persons < 1:
        print(f"error: --max-persons must be >= 1, got {args.max_persons}", file=sys.stderr)
        return 2
    model_dir = args.model if args.model is not None else default_model_dir()
    try:
        onnx_path = _export(args, model_dir)
        return _build_engine(args, onnx_path) if args.tensorrt else 0
    except (ModelFileError, BackendUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
