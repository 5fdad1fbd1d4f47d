"""TensorRT engines built from the exported ONNX file and cached on disk.

An engine is specific to the TensorRT version, the GPU model and the ONNX graph, and to the
build options (precision, persons profile); all of them form the cache key, which is the file
name. A cached engine is reused until the key changes or a rebuild is forced. The library
module is passed in (`trt`), so everything up to the build itself runs without TensorRT.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from emotion_node.cache import cache_root
from emotion_node.model.model_files import sha256_file
from emotion_node.runtime.base import BackendUnavailable

ENGINE_SUFFIX = ".engine"


def engine_cache_key(trt_version: str, gpu_name: str, onnx_sha256: str, fp16: bool,
                     max_persons: int) -> str:
    """Return the file-name-safe cache key of an engine build."""
    if max_persons < 1:
        raise ValueError(f"max_persons must be >= 1, got {max_persons}")
    if not re.fullmatch(r"[0-9a-f]{16,64}", onnx_sha256):
        raise ValueError(f"onnx_sha256 must be a hex digest, got {onnx_sha256!r}")
    gpu = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-") or "unknown-gpu"
    version = re.sub(r"[^0-9A-Za-z.]+", "-", trt_version)
    precision = "fp16" if fp16 else "fp32"
    return f"trt{version}_{gpu}_{onnx_sha256[:16]}_{precision}_b{max_persons}"


def default_engine_dir() -> Path:
    """Return the engine cache directory (`cache_root()/tensorrt`)."""
    return cache_root() / "tensorrt"


def engine_path(key: str, cache_dir: Optional[Path] = None) -> Path:
    """Return where the engine of `key` is cached."""
    return Path(cache_dir or default_engine_dir()) / f"{key}{ENGINE_SUFFIX}"


def needs_rebuild(path: Path, force: bool = False) -> bool:
    """True when no usable cached engine exists at `path` or a rebuild is forced."""
    path = Path(path)
    return force or not path.is_file() or path.stat().st_size == 0


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file, so readers never see half an engine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def build_serialized_engine(trt: Any, onnx_path: Path, max_persons: int, fp16: bool) -> bytes:
    """Parse the ONNX file and build an engine with a persons profile of 1..max_persons."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(str(trt.__version__).split(".")[0])
    # TensorRT 10 networks are always explicit-batch; older versions need the flag.
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendUnavailable(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        rest = tuple(tensor.shape)[1:]  # everything after the persons axis is static
        profile.set_shape(tensor.name, (1, *rest), (min(8, max_persons), *rest),
                          (max_persons, *rest))
    config.add_optimization_profile(profile)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise BackendUnavailable(f"TensorRT failed to build an engine from {onnx_path}")
    return bytes(blob)


@dataclass
class LoadedEngine:
    """A deserialised engine, the runtime that owns it, its cache file and whether it was built."""

    engine: Any
    runtime: Any
    path: Path
    built: bool


def load_or_build_engine(trt: Any, onnx_path: Path, gpu_name: str, max_persons: int = 32,
                         fp16: bool = False, force: bool = False,
                         cache_dir: Optional[Path] = None) -> LoadedEngine:
    """Return the cached engine for this key, building (and caching) it only when needed."""
    key = engine_cache_key(str(trt.__version__), gpu_name, sha256_file(onnx_path), fp16,
                           max_persons)
    path = engine_path(key, cache_dir)
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    built = needs_rebuild(path, force)
    if not built:
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is not None:
            return LoadedEngine(engine, runtime, path, False)
        built = True  # a truncated or foreign cache file: build a fresh one over it
    blob = build_serialized_engine(trt, onnx_path, max_persons, fp16)
    _write_atomically(path, blob)
    engine = runtime.deserialize_cuda_engine(blob)
    if engine is None:
        raise BackendUnavailable(f"TensorRT could not load the engine it built: {path}")
    return LoadedEngine(engine, runtime, path, built)


class TensorRTRunner:
    """Run an engine on torch CUDA tensors; numpy arrays in, numpy arrays out."""

    def __init__(self, trt: Any, torch: Any, engine: Any) -> None:
        self._torch = torch
        self._engine = engine
        self._context = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self._inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self._outputs = [n for n in names if n not in self._inputs]
        dtypes = {trt.float32: torch.float32, trt.float16: torch.float16,
                  trt.int32: torch.int32, trt.int64: torch.int64, trt.bool: torch.bool}
        self._dtypes: Dict[str, Any] = {n: dtypes[engine.get_tensor_dtype(n)] for n in names}
        self._stream = torch.cuda.Stream()

    def run(self, feeds: Dict[str, np.ndarray], output_names: Sequence[str]) -> List[np.ndarray]:
        """Run one batch; `feeds` maps input names to arrays, outputs come in `output_names`."""
        torch, ctx = self._torch, self._context
        with torch.cuda.stream(self._stream):
            keep = {}  # device tensors must outlive the asynchronous execution
            for name in self._inputs:
                tensor = torch.from_numpy(feeds[name]).to("cuda", self._dtypes[name])
                ctx.set_input_shape(name, tuple(tensor.shape))
                ctx.set_tensor_address(name, tensor.data_ptr())
                keep[name] = tensor
            for name in self._outputs:
                shape = tuple(ctx.get_tensor_shape(name))
                keep[name] = torch.empty(shape, dtype=self._dtypes[name], device="cuda")
                ctx.set_tensor_address(name, keep[name].data_ptr())
            if not ctx.execute_async_v3(self._stream.cuda_stream):
                raise RuntimeError("TensorRT execution failed")
            host = [keep[n].float().cpu() for n in output_names]  # .cpu() waits for the stream
        return [t.numpy() for t in host]
