"""One inference interface: backend agreement, input checks, fallback and model-file errors."""
import shutil

import numpy as np
import pytest
import torch

from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.model_files import ModelFileError
from emotion_node.runtime import backends
from emotion_node.runtime.backends import backend_plan, create_backend
from emotion_node.runtime.base import BackendUnavailable, InferenceResult

# Same bound as the export parity test: fp32 ONNX Runtime against eager PyTorch.
PARITY_TOL = 1e-4
FIELDS = tuple(InferenceResult.__dataclass_fields__)

needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(),
                                  reason="checks the CPU-only fallback path; this host has CUDA")


@pytest.fixture(scope="module")
def torch_backend(model_dir):
    return create_backend(model_dir, "torch")


@pytest.fixture(scope="module")
def ort_backend(model_dir):
    return create_backend(model_dir, "onnxruntime")


@pytest.mark.parametrize("batch", [1, 8, 32])
def test_torch_and_onnxruntime_agree(torch_backend, ort_backend, make_inputs, window_frames,
                                     batch):
    x, mask = make_inputs(batch, window_frames, seed=batch)
    a, b = torch_backend.infer(x, mask), ort_backend.infer(x, mask)
    for name in FIELDS:
        got, want = getattr(b, name), getattr(a, name)
        assert isinstance(got, np.ndarray) and got.dtype == np.float32, name
        assert got.shape == want.shape and got.shape[0] == batch, name
        diff = float(np.abs(got - want).max())
        assert diff < PARITY_TOL, f"{name}: max abs diff {diff:.2e}"
    np.testing.assert_allclose(b.probs.sum(axis=1), 1.0, atol=1e-5)


def test_backends_expose_name_and_labels(torch_backend, ort_backend):
    assert torch_backend.name == "torch" and ort_backend.name == "onnxruntime"
    assert torch_backend.labels == ort_backend.labels == EMOTION_STYLES


def test_large_batches_are_split_into_chunks(ort_backend, random_batch, window_frames,
                                             monkeypatch):
    x, mask = random_batch(7, window_frames)
    whole = ort_backend.infer(x, mask)
    calls = []
    original = ort_backend._run
    monkeypatch.setattr(ort_backend, "max_batch", 3)
    monkeypatch.setattr(ort_backend, "_run", lambda a, m: calls.append(len(a)) or original(a, m))
    split = ort_backend.infer(x, mask)
    assert calls == [3, 3, 1]
    for name in FIELDS:
        np.testing.assert_allclose(getattr(split, name), getattr(whole, name), atol=1e-6)


@pytest.mark.parametrize("x_shape, mask_shape, match", [
    ((2, 29, 21, 3), (2, 29, 21), "x must be"),
    ((2, 30, 17, 3), (2, 30, 17), "x must be"),
    ((30, 21, 3), (30, 21), "x must be"),
    ((0, 30, 21, 3), (0, 30, 21), "x must be"),
    ((2, 30, 21, 3), (2, 30, 20), "mask must be"),
])
def test_bad_input_shapes_are_rejected(ort_backend, x_shape, mask_shape, match):
    with pytest.raises(ValueError, match=match):
        ort_backend.infer(np.zeros(x_shape, np.float32), np.ones(mask_shape, bool))


def test_masked_joint_coordinates_do_not_matter(ort_backend, random_batch, window_frames):
    x, mask = random_batch(4, window_frames)
    noisy = np.where(mask[..., None], x, 1e3).astype(np.float32)
    np.testing.assert_allclose(ort_backend.infer(noisy, mask).logits,
                               ort_backend.infer(x, mask).logits, atol=1e-5)


def test_plan_orders_candidates():
    assert backend_plan("auto", "cuda") == [("tensorrt", "cuda"), ("onnxruntime", "cuda"),
                                            ("onnxruntime", "cpu"), ("torch", "cuda"),
                                            ("torch", "cpu")]
    assert backend_plan("auto", "cpu") == [("onnxruntime", "cpu"), ("torch", "cpu")]
    assert backend_plan("torch", "cpu") == [("torch", "cpu")]
    with pytest.raises(ValueError, match="'tflite'"):
        backend_plan("tflite", "cpu")
    with pytest.raises(ValueError, match="'tpu'"):
        backend_plan("auto", "tpu")


def test_auto_on_cpu_is_onnxruntime_without_a_log_line(model_dir, recording_logger):
    backend = create_backend(model_dir, "auto", "cpu", recording_logger)
    assert backend.name == "onnxruntime"
    assert recording_logger.lines == []


def test_tensorrt_on_cpu_falls_back_with_one_line(model_dir, recording_logger):
    backend = create_backend(model_dir, "tensorrt", "cpu", recording_logger)
    assert backend.name == "onnxruntime"
    assert len(recording_logger.lines) == 1
    level, line = recording_logger.lines[0]
    assert level == "warning" and "tensorrt" in line and "'cuda'" in line
    assert "'onnxruntime'" in line


def test_missing_library_falls_back_to_the_next(model_dir, recording_logger, monkeypatch):
    real_import = backends._import

    def no_onnxruntime(name):
        if name == "onnxruntime":
            raise BackendUnavailable("onnxruntime is not importable (test)")
        return real_import(name)

    monkeypatch.setattr(backends, "_import", no_onnxruntime)
    backend = create_backend(model_dir, "onnxruntime", "cpu", recording_logger)
    assert backend.name == "torch"
    assert len(recording_logger.lines) == 1
    assert "onnxruntime is not importable (test)" in recording_logger.lines[0][1]


@needs_no_gpu
def test_auto_on_cuda_without_a_gpu_names_every_reason(model_dir, recording_logger):
    backend = create_backend(model_dir, "auto", "cuda", recording_logger)
    assert backend.name == "onnxruntime"
    assert len(recording_logger.lines) == 1
    line = recording_logger.lines[0][1]
    assert "tensorrt" in line and "onnxruntime-cuda" in line


@needs_no_gpu
def test_torch_on_cuda_without_a_gpu_falls_back_to_cpu(model_dir, recording_logger):
    backend = create_backend(model_dir, "torch", "cuda", recording_logger)
    assert backend.name == "torch"
    assert len(recording_logger.lines) == 1
    assert "torch-cuda: torch sees no CUDA device" in recording_logger.lines[0][1]


def test_nothing_available_raises_with_reasons(model_dir, monkeypatch):
    def nothing(name):
        raise BackendUnavailable(f"{name} is not importable (test)")

    monkeypatch.setattr(backends, "_import", nothing)
    with pytest.raises(BackendUnavailable, match="onnxruntime.*torch"):
        create_backend(model_dir, "auto", "cpu")


@pytest.mark.parametrize("backend", ["auto", "torch", "onnxruntime"])
def test_missing_model_files_raise_naming_the_file(tmp_path, backend):
    with pytest.raises(ModelFileError, match="absent"):
        create_backend(tmp_path / "absent", backend)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="model.safetensors|config.json"):
        create_backend(tmp_path / "empty", backend)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_corrupt_weights_raise_naming_the_file(model_dir, tmp_path, backend):
    work = tmp_path / "model"
    shutil.copytree(model_dir, work)
    (work / "model.safetensors").write_bytes(b"corrupt" * 10)
    with pytest.raises(ModelFileError, match="model.safetensors"):
        create_backend(work, backend)


def test_onnx_only_directory_runs_without_weights(model_dir, tmp_path, random_batch,
                                                  window_frames):
    (tmp_path / "deploy").mkdir()
    shutil.copy(model_dir / "model.onnx", tmp_path / "deploy" / "model.onnx")
    backend = create_backend(tmp_path / "deploy", "onnxruntime")
    assert backend.labels == EMOTION_STYLES
    assert backend.infer(*random_batch(2, window_frames)).probs.shape == (2, 7)
    (tmp_path / "deploy" / "model.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="model.onnx"):
        create_backend(tmp_path / "deploy", "onnxruntime")


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="no CUDA device here: the CUDA-graph backend runs where torch sees one")
def test_cuda_graphs_match_eager_cpu_and_follow_new_inputs(torch_backend, make_inputs,
                                                           window_frames, model_dir):
    # A replayed graph reads its static input buffers: each call must copy the new batch in.
    cuda = backends.TorchBackend(model_dir, "cuda", max_persons=8)
    assert cuda.name == "torch-cuda"
    for batch, seed in ((1, 0), (8, 1), (8, 2), (11, 3)):  # 11: two chunks, two graphs
        x, mask = make_inputs(batch, window_frames, seed=seed)
        got, want = cuda.infer(x, mask), torch_backend.infer(x, mask)
        for name in FIELDS:
            diff = float(np.abs(getattr(got, name) - getattr(want, name)).max())
            assert diff < 1e-3, f"batch {batch} seed {seed} {name}: max abs diff {diff:.2e}"
    cuda.close()
