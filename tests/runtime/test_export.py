"""ONNX export: metadata, dynamic persons axis, parity with PyTorch, stale and corrupt files."""
import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from emotion_node.model import tokenizer
from emotion_node.runtime.export import (
    ensure_onnx, export_onnx, onnx_stale_reason, read_onnx_metadata)
from emotion_node.model.model_files import ModelFileError, sha256_file
from emotion_node.skeleton.layouts import CANONICAL_JOINTS

# Largest |ONNX Runtime - PyTorch| allowed on any output (fp32 on CPU). Measured on the fixture
# model: about 1e-6 (see BENCHMARKS.md); 1e-4 leaves room for other CPUs' kernels.
PARITY_TOL = 1e-4


def test_metadata_records_labels_joints_preprocessing_and_hashes(model_dir):
    meta = read_onnx_metadata(model_dir / "model.onnx")
    config = json.loads((model_dir / "config.json").read_text())
    assert json.loads(meta["labels"]) == config["labels"]
    assert tuple(json.loads(meta["joint_order"])) == CANONICAL_JOINTS
    assert json.loads(meta["preprocess"]) == config["preprocess"]
    assert json.loads(meta["tokenizer_config"]) == config
    assert json.loads(meta["outputs"]) == list(tokenizer.OUTPUT_NAMES)
    assert meta["weights_sha256"] == sha256_file(model_dir / "model.safetensors")
    assert meta["config_sha256"] == sha256_file(model_dir / "config.json")
    assert meta["opset"] == "18"
    # Readable by every user (the node may run as another user than the one who exported).
    assert (model_dir / "model.onnx").stat().st_mode & 0o044 == 0o044
    assert (model_dir / "model.safetensors").stat().st_mode & 0o044 == 0o044


def test_graph_has_named_inputs_and_a_dynamic_persons_axis(model_dir):
    graph = onnx.load(str(model_dir / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["x", "mask"]
    assert [o.name for o in graph.output] == list(tokenizer.OUTPUT_NAMES)
    for value in list(graph.input) + list(graph.output):
        first = value.type.tensor_type.shape.dim[0]
        assert first.dim_param and not first.dim_value, f"{value.name} has a fixed batch axis"


@pytest.mark.parametrize("batch", [1, 8, 32])
def test_onnxruntime_matches_pytorch(model_dir, make_inputs, window_frames, batch):
    model, _ = tokenizer.load_tokenizer(model_dir)
    session = ort.InferenceSession(str(model_dir / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    x, mask = make_inputs(batch, window_frames, seed=batch)
    got = session.run(None, {"x": x, "mask": mask.astype(np.float32)})
    with torch.inference_mode():
        want = model(torch.from_numpy(x), torch.from_numpy(mask.astype(np.float32)))
    assert len(got) == len(want) == len(tokenizer.OUTPUT_NAMES)
    for name, a, b in zip(tokenizer.OUTPUT_NAMES, got, want):
        assert a.shape == tuple(b.shape), name
        diff = float(np.abs(a - b.numpy()).max())
        assert diff < PARITY_TOL, f"{name}: max abs diff {diff:.2e} at batch {batch}"
    assert np.abs(got[0]).max() > 1e-3  # a degenerate all-zero graph would pass vacuously


def test_stale_and_corrupt_onnx_are_reexported(model_dir, save_model, tmp_path,
                                               recording_logger):
    work = tmp_path / "model"
    shutil.copytree(model_dir, work)
    assert onnx_stale_reason(work / "model.onnx", work) is None
    save_model(work, seed=1)  # retrained weights: the export no longer matches
    reason = onnx_stale_reason(work / "model.onnx", work)
    assert reason is not None and "weights" in reason
    (work / "model.onnx").write_bytes(b"not an onnx file")
    assert "cannot be read" in onnx_stale_reason(work / "model.onnx", work)
    assert ensure_onnx(work, recording_logger) == work / "model.onnx"
    assert onnx_stale_reason(work / "model.onnx", work) is None
    assert [level for level, _ in recording_logger.lines] == ["warning"]
    assert "model.onnx" in recording_logger.lines[0][1]
    assert ensure_onnx(work, recording_logger) == work / "model.onnx"  # current: no re-export
    assert len(recording_logger.lines) == 1


def test_read_only_model_dir_exports_into_the_cache(model_dir, tmp_path, monkeypatch):
    work = tmp_path / "installed"
    shutil.copytree(model_dir, work)
    (work / "model.onnx").unlink()
    monkeypatch.setenv("EMOTION_NODE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("emotion_node.runtime.export.os.access", lambda path, mode: False)
    path = ensure_onnx(work)
    assert path.is_relative_to(tmp_path / "cache") and path.is_file()
    assert not (work / "model.onnx").exists()
    assert onnx_stale_reason(path, work) is None
    assert ensure_onnx(work) == path  # found again without exporting


def test_missing_and_corrupt_files_are_named(model_dir, tmp_path):
    with pytest.raises(ModelFileError, match="nowhere"):
        export_onnx(tmp_path / "nowhere")
    work = tmp_path / "model"
    shutil.copytree(model_dir, work)
    (work / "model.safetensors").write_bytes(b"\0" * 64)
    with pytest.raises(ModelFileError, match="model.safetensors"):
        export_onnx(work, tmp_path / "out.onnx")
    (work / "config.json").write_text("{ broken")
    with pytest.raises(ModelFileError, match="config.json"):
        export_onnx(work, tmp_path / "out.onnx")
    (work / "config.json").unlink()
    with pytest.raises(ModelFileError, match="config.json"):
        export_onnx(work, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
