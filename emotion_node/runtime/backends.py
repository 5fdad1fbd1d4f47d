"""Tokenizer inference behind one interface: PyTorch, ONNX Runtime and TensorRT backends.

`create_backend` picks one by name (or "auto": tensorrt -> onnxruntime CUDA -> onnxruntime CPU
-> torch) and falls back past unavailable ones with a single log line saying why. Every backend
returns numpy arrays (the interface and its result are in `emotion_node.runtime.base`), so the
ONNX Runtime and TensorRT paths never need torch at inference.
"""
from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

import numpy as np

from emotion_node.model.model_files import ModelFileError
from emotion_node.runtime.base import BackendUnavailable, TokenizerBackend
from emotion_node.runtime.export import ensure_onnx, read_onnx_metadata

if TYPE_CHECKING:  # imported where used: the ONNX Runtime and TensorRT paths need no torch
    from emotion_node.model.tokenizer import SkeletonTokenizer
    from emotion_node.runtime.tensorrt_engine import LoadedEngine, TensorRTRunner

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")
DEVICES = ("cpu", "cuda")
_ORDER = ("tensorrt", "onnxruntime", "torch")
DEFAULT_MAX_PERSONS = 32
# One intra-op thread: on the 2-core target it matches two threads at 1-8 persons and leaves
# the other core to the ROS executor (see BENCHMARKS.md).
DEFAULT_ORT_THREADS = 1
_ORT_LEVELS = {"basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
               "all": "ORT_ENABLE_ALL"}
_LOG = logging.getLogger("emotion_node.runtime")


def _import(name: str) -> Any:
    """Import a backend library or raise BackendUnavailable saying why."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise BackendUnavailable(f"{name} is not importable ({exc})") from exc


class TorchBackend(TokenizerBackend):
    """Eager PyTorch; on CUDA, one captured CUDA graph per batch size (replayed, not re-run)."""

    def __init__(self, model_dir: Path, device: str = "cpu",
                 max_persons: int = DEFAULT_MAX_PERSONS) -> None:
        torch = _import("torch")
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable("torch sees no CUDA device")
        from emotion_node.model.tokenizer import load_tokenizer_checked  # imports torch

        model, config = load_tokenizer_checked(model_dir)
        self._torch, self._device = torch, torch.device(device)
        self._model: Optional[SkeletonTokenizer] = model.to(self._device).eval()
        self._graphs: Optional[dict] = {} if device == "cuda" else None
        if self._graphs is not None:
            self.max_batch = max_persons  # bounds the number of captured graphs
        self.name = "torch" if device == "cpu" else "torch-cuda"
        self._set_model_info(config.labels, config.preprocess.window_frames, Path(model_dir))

    def _run(self, x: np.ndarray, mask: np.ndarray) -> List[np.ndarray]:
        torch, model = self._torch, self._open()
        if self._graphs is not None:
            with torch.no_grad():
                outs = self._replay(self._graphs, x, mask)
        else:
            with torch.inference_mode():
                outs = model(torch.from_numpy(x).to(self._device),
                             torch.from_numpy(mask).to(self._device))
        return [o.float().cpu().numpy() for o in outs]

    def _open(self) -> SkeletonTokenizer:
        """The model; RuntimeError once closed."""
        if self._model is None:
            raise RuntimeError(f"backend {self.name} is closed")
        return self._model

    def _replay(self, graphs: dict, x: np.ndarray, mask: np.ndarray) -> Sequence[Any]:
        """Copy the batch into the graph's input buffers and replay it."""
        if x.shape[0] not in graphs:
            graphs[x.shape[0]] = self._capture(x.shape[0])
        graph, static_x, static_mask, outs = graphs[x.shape[0]]
        static_x.copy_(self._torch.from_numpy(x))
        static_mask.copy_(self._torch.from_numpy(mask))
        graph.replay()
        return outs

    def _capture(self, batch: int) -> Tuple[Any, Any, Any, Sequence[Any]]:
        """Capture the forward pass for `batch` persons into a CUDA graph."""
        torch, model = self._torch, self._open()
        static_x = torch.zeros((batch, self.window_frames, self.num_joints, 3),
                               device=self._device)
        static_mask = torch.ones((batch, self.window_frames, self.num_joints),
                                 device=self._device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):  # warm-up on a side stream, as graph capture requires
                model(static_x, static_mask)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            outs = model(static_x, static_mask)
        return graph, static_x, static_mask, outs

    def close(self) -> None:
        self._graphs, self._model = None, None
        if self._device.type == "cuda":
            self._torch.cuda.empty_cache()


def session_options(ort: Any, threads: Optional[int] = None, level: str = "all",
                    spinning: bool = False) -> Any:
    """ONNX Runtime session options for small batches on few cores."""
    if level not in _ORT_LEVELS:
        raise ValueError(f"unknown optimisation level {level!r}; expected one of "
                         f"{tuple(_ORT_LEVELS)}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or DEFAULT_ORT_THREADS
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # "all" adds layout transforms (NCHWc convolutions) that pay off most at 8-32 persons.
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _ORT_LEVELS[level])
    # Idle pool threads sleep instead of spinning: the cores are shared with the ROS executor.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    opts.log_severity_level = 3
    return opts


def _labels_from_metadata(meta: dict, path: Path) -> List[str]:
    """Read the label list an export embedded, or say the file was not made by our exporter."""
    if "labels" not in meta:
        raise ModelFileError(f"ONNX model {path} has no 'labels' metadata; export it with "
                             f"`emotion-node export`")
    return list(json.loads(meta["labels"]))


class OnnxRuntimeBackend(TokenizerBackend):
    """ONNX Runtime on the CPU, or with its CUDA execution provider."""

    def __init__(self, model_dir: Path, device: str = "cpu", threads: Optional[int] = None,
                 logger: Any = None, level: str = "all", spinning: bool = False) -> None:
        ort = _import("onnxruntime")
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            available = ort.get_available_providers()
            if "CUDAExecutionProvider" not in available:
                raise BackendUnavailable(f"onnxruntime {ort.__version__} has no CUDA execution "
                                         f"provider (has {', '.join(available)})")
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        path = ensure_onnx(model_dir, logger)
        try:
            options = session_options(ort, threads, level, spinning)
            self._session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own unrelated types for bad files
            raise ModelFileError(f"ONNX model {path} cannot be loaded: {exc}") from exc
        if self._session.get_providers()[0] != providers[0]:
            raise BackendUnavailable("onnxruntime could not start its CUDA execution provider "
                                     "(CUDA or cuDNN libraries missing?)")
        meta = self._session.get_modelmeta().custom_metadata_map
        self._outputs = [o.name for o in self._session.get_outputs()]
        self.name = "onnxruntime" if device == "cpu" else "onnxruntime-cuda"
        window = self._session.get_inputs()[0].shape[1]
        self._set_model_info(_labels_from_metadata(meta, path), window, path)

    def _run(self, x: np.ndarray, mask: np.ndarray) -> List[np.ndarray]:
        return self._session.run(self._outputs, {"x": x, "mask": mask})

    def close(self) -> None:
        self._session = None


class TensorRTBackend(TokenizerBackend):
    """A TensorRT engine built from the ONNX export and cached on disk (see tensorrt_engine)."""

    def __init__(self, model_dir: Path, max_persons: int = DEFAULT_MAX_PERSONS,
                 fp16: bool = False, cache_dir: Optional[Path] = None,
                 logger: Any = None) -> None:
        trt = _import("tensorrt")
        torch = _import("torch")
        if not torch.cuda.is_available():
            raise BackendUnavailable("torch sees no CUDA device for the TensorRT buffers")
        from emotion_node.runtime.tensorrt_engine import TensorRTRunner, load_or_build_engine

        path = ensure_onnx(model_dir, logger)
        meta = read_onnx_metadata(path)
        loaded = load_or_build_engine(trt, path, torch.cuda.get_device_name(), max_persons,
                                      fp16, cache_dir=cache_dir)
        if loaded.built:
            (logger or _LOG).info(f"built TensorRT engine {loaded.path}")
        self._loaded: Optional[LoadedEngine] = loaded
        self._runner: Optional[TensorRTRunner] = TensorRTRunner(trt, torch, loaded.engine)
        self._outputs = json.loads(meta["outputs"])
        self.max_batch, self.name = max_persons, "tensorrt-cuda"
        window = json.loads(meta["preprocess"])["window_frames"]
        self._set_model_info(_labels_from_metadata(meta, path), window, path)

    def _run(self, x: np.ndarray, mask: np.ndarray) -> List[np.ndarray]:
        if self._runner is None:
            raise RuntimeError(f"backend {self.name} is closed")
        return self._runner.run({"x": x, "mask": mask}, self._outputs)

    def close(self) -> None:
        self._runner, self._loaded = None, None


def backend_plan(backend: str, device: str) -> List[Tuple[str, str]]:
    """The (backend, device) candidates tried in order for a request."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {DEVICES}")
    kinds = _ORDER if backend == "auto" else _ORDER[_ORDER.index(backend):]
    devices = ("cuda", "cpu") if device == "cuda" else ("cpu",)
    return [(k, d) for k in kinds for d in devices if not (k == "tensorrt" and d == "cpu")]


def _make(kind: str, device: str, model_dir: Path, logger: Any, max_persons: int,
          fp16: bool) -> TokenizerBackend:
    """Construct one backend (BackendUnavailable when it cannot run here)."""
    if kind == "tensorrt":
        return TensorRTBackend(model_dir, max_persons, fp16, logger=logger)
    if kind == "onnxruntime":
        return OnnxRuntimeBackend(model_dir, device, logger=logger)
    return TorchBackend(model_dir, device, max_persons=max_persons)


def create_backend(model_dir: Path, backend: str = "auto", device: str = "cpu",
                   logger: Any = None, *, max_persons: int = DEFAULT_MAX_PERSONS,
                   fp16: bool = False) -> TokenizerBackend:
    """Create the requested backend, or the next available one (logged once, with reasons).

    `max_persons` bounds TensorRT profiles and CUDA graphs; `fp16` picks the TensorRT engine's
    precision (other backends run float32). Missing or corrupt model files raise
    ModelFileError (naming the file) and never fall back.
    """
    logger = logger or _LOG
    reasons = []
    if backend == "tensorrt" and device == "cpu":
        reasons.append("tensorrt: runs only on device 'cuda', device is 'cpu'")
    for kind, dev in backend_plan(backend, device):
        try:
            chosen = _make(kind, dev, Path(model_dir), logger, max_persons, fp16)
        except BackendUnavailable as exc:
            reasons.append(f"{kind}{'-cuda' if dev == 'cuda' else ''}: {exc}")
            continue
        if reasons:
            logger.warning(f"tokenizer backend '{backend}' on {device}: using '{chosen.name}' "
                           f"because {'; '.join(reasons)}")
        return chosen
    raise BackendUnavailable(f"no tokenizer backend can run: {'; '.join(reasons)}")
