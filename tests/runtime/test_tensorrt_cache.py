"""TensorRT engine cache: key, path and rebuild decision without the library; engine with it."""
import types

import numpy as np
import pytest
import torch

from emotion_node.runtime import tensorrt_engine as te
from emotion_node.runtime.backends import TensorRTBackend, create_backend
from emotion_node.runtime.base import BackendUnavailable
from emotion_node.model.model_files import sha256_file

SHA = "0123456789abcdef" * 4


def test_key_holds_version_gpu_hash_precision_and_profile():
    key = te.engine_cache_key("10.3.0", "NVIDIA H100 80GB HBM3", SHA, False, 32)
    assert key == "trt10.3.0_nvidia-h100-80gb-hbm3_0123456789abcdef_fp32_b32"
    variants = [te.engine_cache_key("10.4.0", "NVIDIA H100 80GB HBM3", SHA, False, 32),
                te.engine_cache_key("10.3.0", "NVIDIA A100-SXM4-40GB", SHA, False, 32),
                te.engine_cache_key("10.3.0", "NVIDIA H100 80GB HBM3", "f" * 64, False, 32),
                te.engine_cache_key("10.3.0", "NVIDIA H100 80GB HBM3", SHA, True, 32),
                te.engine_cache_key("10.3.0", "NVIDIA H100 80GB HBM3", SHA, False, 8)]
    assert len({key, *variants}) == 6  # every component changes the key


def test_key_is_a_safe_file_name_and_checks_its_inputs():
    key = te.engine_cache_key("10.0.1/post", "Weird GPU (rev 2)/x", SHA, True, 4)
    assert "/" not in key and " " not in key and "(" not in key
    with pytest.raises(ValueError, match="max_persons"):
        te.engine_cache_key("10.0", "gpu", SHA, False, 0)
    with pytest.raises(ValueError, match="'nothex'"):
        te.engine_cache_key("10.0", "gpu", "nothex", False, 8)


def test_engine_path_and_default_cache_dir(tmp_path, monkeypatch):
    assert te.engine_path("k", tmp_path) == tmp_path / "k.engine"
    monkeypatch.setenv("EMOTION_NODE_CACHE", str(tmp_path / "c"))
    assert te.engine_path("k") == tmp_path / "c" / "tensorrt" / "k.engine"


def test_rebuild_only_when_missing_empty_or_forced(tmp_path):
    path = tmp_path / "a.engine"
    assert te.needs_rebuild(path)
    path.write_bytes(b"")
    assert te.needs_rebuild(path)
    path.write_bytes(b"engine")
    assert not te.needs_rebuild(path)
    assert te.needs_rebuild(path, force=True)


class _FakeRuntime:
    """Deserialises anything but bytes starting with b'bad'."""

    def __init__(self, logger):
        pass

    def deserialize_cuda_engine(self, blob):
        return None if blob.startswith(b"bad") else types.SimpleNamespace(blob=blob)


def _fake_trt(version="10.3.0"):
    logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None})
    return types.SimpleNamespace(__version__=version, Logger=logger, Runtime=_FakeRuntime)


def test_engine_is_built_once_and_reused_until_the_key_changes(tmp_path, monkeypatch):
    builds = []

    def fake_build(trt, onnx_path, max_persons, fp16):
        builds.append((onnx_path, max_persons, fp16))
        return b"engine-for-" + sha256_file(onnx_path).encode()

    monkeypatch.setattr(te, "build_serialized_engine", fake_build)
    onnx_path = tmp_path / "model.onnx"
    onnx_path.write_bytes(b"graph v1")
    cache = tmp_path / "cache"
    first = te.load_or_build_engine(_fake_trt(), onnx_path, "GPU A", 16, False, cache_dir=cache)
    assert first.built and first.path.is_file() and len(builds) == 1
    again = te.load_or_build_engine(_fake_trt(), onnx_path, "GPU A", 16, False, cache_dir=cache)
    assert not again.built and again.path == first.path and len(builds) == 1
    forced = te.load_or_build_engine(_fake_trt(), onnx_path, "GPU A", 16, False, True, cache)
    assert forced.built and len(builds) == 2
    for kwargs in ({"trt": _fake_trt("10.4.0")}, {"gpu_name": "GPU B"}):
        args = {"trt": _fake_trt(), "onnx_path": onnx_path, "gpu_name": "GPU A",
                "max_persons": 16, "cache_dir": cache, **kwargs}
        assert te.load_or_build_engine(**args).built
    assert len(builds) == 4
    onnx_path.write_bytes(b"graph v2")  # re-exported model: new hash, new engine
    changed = te.load_or_build_engine(_fake_trt(), onnx_path, "GPU A", 16, cache_dir=cache)
    assert changed.built and changed.path != first.path and len(builds) == 5


def test_unloadable_cache_file_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(te, "build_serialized_engine", lambda *args: b"good engine")
    onnx_path = tmp_path / "model.onnx"
    onnx_path.write_bytes(b"graph")
    key = te.engine_cache_key("10.3.0", "GPU A", sha256_file(onnx_path), False, 32)
    te.engine_path(key, tmp_path).write_bytes(b"bad: written by another TensorRT")
    loaded = te.load_or_build_engine(_fake_trt(), onnx_path, "GPU A", cache_dir=tmp_path)
    assert loaded.built and loaded.path.read_bytes() == b"good engine"


def test_unavailable_tensorrt_says_why(model_dir, recording_logger):
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailable, match="tensorrt is not importable"):
            TensorRTBackend(model_dir)
    if not torch.cuda.is_available():
        backend = create_backend(model_dir, "tensorrt", "cuda", recording_logger)
        assert backend.name.startswith("onnxruntime") or backend.name.startswith("torch")
        assert len(recording_logger.lines) == 1 and "tensorrt" in recording_logger.lines[0][1]


def _require_tensorrt_gpu():
    """Skip, saying why, unless TensorRT imports and CUDA is present."""
    trt = pytest.importorskip(
        "tensorrt", reason="TensorRT is not installed on this machine: engine build and "
                           "inference are not tested here (they run where it imports)")
    if not torch.cuda.is_available():
        pytest.skip("TensorRT imports but torch sees no CUDA GPU: engine tests skipped")
    return trt


@pytest.mark.parametrize("fp16, tol", [(False, 5e-3), (True, 5e-2)])
def test_tensorrt_engine_matches_pytorch_and_is_cached(model_dir, make_inputs, window_frames,
                                                       tmp_path, fp16, tol):
    _require_tensorrt_gpu()
    engine = TensorRTBackend(model_dir, max_persons=8, fp16=fp16, cache_dir=tmp_path)
    reference = create_backend(model_dir, "torch")
    x, mask = make_inputs(11, window_frames)  # 11 > 8: split into two engine calls
    got, want = engine.infer(x, mask), reference.infer(x, mask)
    for name in ("logits", "temporal_tokens", "spatial_tokens", "semantic_tokens"):
        diff = float(np.abs(getattr(got, name) - getattr(want, name)).max())
        assert diff < tol, f"{name}: max abs diff {diff:.2e} (fp16={fp16})"
    assert engine._loaded.built
    again = TensorRTBackend(model_dir, max_persons=8, fp16=fp16, cache_dir=tmp_path)
    assert not again._loaded.built and again._loaded.path == engine._loaded.path
