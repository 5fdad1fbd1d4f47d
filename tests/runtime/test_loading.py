"""Loading a model folder: the backend, the preprocessing it came with, its name and hash."""
import json
import shutil

import pytest

from emotion_node.model.model_files import ModelFileError, sha256_file
from emotion_node.runtime import loading
from emotion_node.runtime.loading import load_model
from emotion_node.skeleton.preprocess import PreprocessConfig


def test_a_saved_model_reports_its_config_name_and_weights_hash(model_dir):
    model = load_model(model_dir, 'onnxruntime')
    try:
        config = json.loads((model_dir / 'config.json').read_text())
        assert model.preprocess == PreprocessConfig.from_dict(config['preprocess'])
        assert model.directory == model_dir and model.name == model_dir.name
        assert model.hash == sha256_file(model_dir / 'model.safetensors')[:16]
        assert model.backend.name == 'onnxruntime'
    finally:
        model.backend.close()


def test_an_onnx_only_folder_reads_its_preprocessing_from_the_metadata(model_dir, tmp_path):
    only = tmp_path / 'onnx_only'
    only.mkdir()
    shutil.copy(model_dir / 'model.onnx', only / 'model.onnx')
    model = load_model(only)
    try:
        config = json.loads((model_dir / 'config.json').read_text())
        assert model.preprocess == PreprocessConfig.from_dict(config['preprocess'])
        assert model.hash == sha256_file(only / 'model.onnx')[:16]
    finally:
        model.backend.close()


def test_a_window_the_backend_does_not_take_is_refused_and_the_backend_closed(
        model_dir, monkeypatch):
    closed = []

    class Backend:
        window_frames = 45

        def close(self):
            closed.append(True)

    monkeypatch.setattr(loading, 'create_backend', lambda *a, **k: Backend())
    with pytest.raises(ModelFileError, match='window_frames 30 differs .* 45; re-export'):
        load_model(model_dir)
    assert closed == [True]


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(ModelFileError, match='no_such_model'):
        load_model(tmp_path / 'no_such_model')
