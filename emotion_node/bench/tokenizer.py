"""Tokenizer latency: eager PyTorch against ONNX Runtime (and the CUDA backends on a GPU).

Every backend runs the same batch in the same loop, interleaved repeat by repeat, so load from
other processes hits them alike. A row times one `backend.infer` call (numpy in, numpy out:
host/device copies and softmax included). `preprocess_batch` on the same
persons is timed in the same loop and reported apart, under `preprocess_rows`.
"""
from __future__ import annotations

import os
import platform
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

PERSONS = (1, 8, 32)
SWEEP = [(threads, level, spinning) for threads in (1, 2) for level in ("basic", "extended", "all")
         for spinning in (False, True)]


def synthetic_motion(persons: int, frames: int, fps: float,
                     rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Walking-like raw canonical windows (B, T, 21, 3) in metres, ~5% joints missing."""
    from emotion_node.skeleton.layouts import NUM_JOINTS

    t = np.arange(frames) / fps  # (T,)
    base = rng.normal(0.0, 0.25, (persons, 1, NUM_JOINTS, 3)) + np.array([0.0, 0.0, 1.0])
    phase = rng.uniform(0, 2 * np.pi, (persons, 1, NUM_JOINTS, 3))
    swing = 0.08 * np.sin(2 * np.pi * 1.8 * t[None, :, None, None] + phase)
    walk = np.zeros((persons, frames, 1, 3))
    walk[..., 0] = 1.2 * t[None, :, None]  # forward at 1.2 m/s
    positions = (base + swing + walk).astype(np.float32)
    mask = rng.random((persons, frames, NUM_JOINTS)) > 0.05
    return positions, mask


def _percentiles(samples_ns: List[int]) -> Dict[str, float]:
    """p50 / p99 / mean of nanosecond samples, in milliseconds."""
    ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
    return {"p50_ms": round(float(np.percentile(ms, 50)), 4),
            "p99_ms": round(float(np.percentile(ms, 99)), 4),
            "mean_ms": round(float(ms.mean()), 4)}


def time_interleaved(calls: Dict[str, Callable[[], Any]], repeats: int,
                     warmup: int) -> Dict[str, Dict[str, float]]:
    """Time every call `repeats` times, round-robin; return percentiles per name."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    samples: Dict[str, List[int]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter_ns()
            call()
            samples[name].append(time.perf_counter_ns() - start)
    return {name: _percentiles(values) for name, values in samples.items()}


def _infer_call(backend: Any, x: np.ndarray, mask: np.ndarray) -> Callable[[], Any]:
    """A call of `backend.infer` on this batch, for `time_interleaved`."""
    return partial(backend.infer, x, mask)


def _make_backends(model_dir: Path, device: str, threads: Optional[int]
                   ) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Build every backend the device allows; return (backends by name, skipped reasons)."""
    from emotion_node.runtime import backends as rb
    from emotion_node.runtime.base import BackendUnavailable

    makers: List[Tuple[str, Callable[[], Any]]] = [
        ("torch", lambda: rb.TorchBackend(model_dir, "cpu")),
        ("onnxruntime", lambda: rb.OnnxRuntimeBackend(model_dir, "cpu", threads)),
    ]
    if device == "cuda":
        makers += [
            ("torch-cuda", lambda: rb.TorchBackend(model_dir, "cuda")),
            ("onnxruntime-cuda", lambda: rb.OnnxRuntimeBackend(model_dir, "cuda", threads)),
            ("tensorrt-cuda", lambda: rb.TensorRTBackend(model_dir)),
        ]
    made, skipped = {}, {}
    for name, make in makers:
        try:
            made[name] = make()
        except BackendUnavailable as exc:
            skipped[name] = str(exc)
    return made, skipped


def _ort_sweep(model_dir: Path, inputs: Dict[int, Tuple[np.ndarray, np.ndarray]],
               repeats: int, warmup: int) -> List[Dict[str, Any]]:
    """Time ONNX Runtime session options against each other (CPU)."""
    from emotion_node.runtime.backends import OnnxRuntimeBackend

    variants = {f"t{t}-{lv}-spin{int(sp)}": OnnxRuntimeBackend(model_dir, "cpu", t, None, lv, sp)
                for t, lv, sp in SWEEP}
    rows = []
    for persons, (x, mask) in inputs.items():
        calls = {name: _infer_call(b, x, mask) for name, b in variants.items()}
        for name, stats in time_interleaved(calls, repeats, warmup).items():
            threads, level, spin = name.split("-")
            rows.append({"threads": int(threads[1:]), "level": level,
                         "spinning": spin == "spin1", "persons": persons, **stats})
    return rows


def _machine(device: str) -> Dict[str, Any]:
    """Describe the machine the figures come from."""
    import onnxruntime
    import torch

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")),
                       cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(),
            "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version()}


def resolve_model(model: Optional[Path], fresh: bool, tmp: str) -> Tuple[Path, Dict[str, Any]]:
    """The model directory to time and a description of it: `model` (default: the package's),
    or with `fresh` a randomly initialised model of the default config saved under `tmp`."""
    import torch

    from emotion_node.model.tokenizer import (
        SkeletonTokenizer, TokenizerConfig, count_parameters, load_tokenizer_checked,
        save_tokenizer)
    from emotion_node.model.model_files import default_model_dir

    if fresh:
        torch.manual_seed(0)
        config = TokenizerConfig()
        model_dir = save_tokenizer(SkeletonTokenizer(config).eval(), config, Path(tmp))
        kind = "fresh: randomly initialised, default TokenizerConfig (not trained)"
    else:
        model_dir = Path(model) if model is not None else default_model_dir()
        kind = "trained"
    tokenizer, config = load_tokenizer_checked(model_dir)
    return model_dir, {"dir": str(model_dir), "kind": kind,
                       "parameters": count_parameters(tokenizer),
                       "window_frames": config.preprocess.window_frames,
                       "fps": config.preprocess.fps}


def print_table(result: Dict[str, Any]) -> None:
    """Print rows and the eager/ONNX Runtime ratios."""
    print(f"{'backend':<18}{'persons':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for row in result["rows"]:
        print(f"{row['backend']:<18}{row['persons']:>8}{row['p50_ms']:>10.3f}"
              f"{row['p99_ms']:>10.3f}")
    for row in result["preprocess_rows"]:
        print(f"{'(preprocess)':<18}{row['persons']:>8}{row['p50_ms']:>10.3f}"
              f"{row['p99_ms']:>10.3f}")
    for row in result["ratios"]:
        print(f"{row['numerator']} / {row['denominator']} p50 at {row['persons']} persons: "
              f"{row['p50_ratio']:.2f}x")


def _ratios(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Eager PyTorch p50 over ONNX Runtime p50, per device and batch size."""
    p50 = {(r["backend"], r["persons"]): r["p50_ms"] for r in rows}
    out = []
    for num, den in (("torch", "onnxruntime"), ("torch-cuda", "onnxruntime-cuda")):
        for (name, persons), value in p50.items():
            if name == num and (den, persons) in p50 and p50[(den, persons)] > 0:
                out.append({"numerator": num, "denominator": den, "persons": persons,
                            "p50_ratio": round(value / p50[(den, persons)], 3)})
    return out


def run(model_dir: Path, model_info: Dict[str, Any], persons: Sequence[int] = PERSONS,
        repeats: int = 300, warmup: int = 20, threads: int = 1, device: str = "auto",
        ort_sweep: bool = False) -> Dict[str, Any]:
    """Time every backend at every batch size; return the JSON-ready result.

    `threads`: intra-op threads of both PyTorch and ONNX Runtime; `device`: auto adds the CUDA
    backends when torch sees a GPU; `ort_sweep`: also time ONNX Runtime session options.
    """
    import torch

    from emotion_node.skeleton.preprocess import PreprocessConfig, preprocess_batch

    torch.set_num_threads(threads)  # the same thread budget for eager and ONNX Runtime
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    backends, skipped = _make_backends(model_dir, device, threads)
    config = PreprocessConfig(fps=model_info["fps"], window_frames=model_info["window_frames"])
    rng = np.random.default_rng(0)
    rows: List[Dict[str, Any]] = []
    pre_rows: List[Dict[str, Any]] = []
    inputs: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
    for count in persons:
        raw, raw_mask = synthetic_motion(count, config.window_frames, config.fps, rng)
        x, mask = preprocess_batch(raw, raw_mask, config)
        inputs[count] = (x, mask)
        calls = {name: _infer_call(b, x, mask) for name, b in backends.items()}
        calls["preprocess"] = partial(preprocess_batch, raw, raw_mask, config)
        for name, stats in time_interleaved(calls, repeats, warmup).items():
            row = {"backend": name, "persons": count, **stats}
            (pre_rows if name == "preprocess" else rows).append(row)
    for row in pre_rows:
        del row["backend"]
    result = {"rows": rows, "preprocess_rows": pre_rows, "ratios": _ratios(rows),
              "skipped": skipped, "model": model_info, "machine": _machine(device),
              "settings": {"repeats": repeats, "warmup": warmup, "threads": threads,
                           "device": device,
                           "input": "synthetic walking-like motion through preprocess_batch"}}
    if ort_sweep:
        result["ort_options"] = _ort_sweep(model_dir, inputs, repeats, warmup)
    return result
