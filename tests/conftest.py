"""Shared fixtures: one small random tokenizer saved to disk and its ONNX export."""
from pathlib import Path

import numpy as np
import pytest
import torch

from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer
from emotion_node.bench.tokenizer import synthetic_motion
from emotion_node.runtime.export import export_onnx
from emotion_node.skeleton.preprocess import preprocess_batch


def make_model(seed: int) -> tuple:
    """A randomly initialised tokenizer whose normalisation statistics are not the identity."""
    torch.manual_seed(seed)
    config = TokenizerConfig()
    model = SkeletonTokenizer(config).eval()
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0.0, 0.2)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
    return model, config


@pytest.fixture(scope="session")
def save_model():
    """Return a function that saves a seeded random tokenizer into a directory."""
    def _save(directory: Path, seed: int = 0) -> Path:
        model, config = make_model(seed)
        return save_tokenizer(model, config, directory)
    return _save


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, save_model) -> Path:
    """A saved random tokenizer with its ONNX export beside it (treat as read-only)."""
    directory = save_model(tmp_path_factory.mktemp("model"))
    export_onnx(directory)
    return directory


@pytest.fixture(scope="session")
def window_frames() -> int:
    """Window length of the fixture model."""
    return TokenizerConfig().preprocess.window_frames


def random_inputs(batch: int, frames: int, seed: int = 0) -> tuple:
    """Unit-normal x with ~20% of joints masked."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, frames, 21, 3), dtype=np.float32)
    return x, rng.random((batch, frames, 21)) > 0.2


def real_shaped_inputs(batch: int, frames: int, seed: int = 0) -> tuple:
    """Walking-like motion in metres through the real preprocessing."""
    config = TokenizerConfig().preprocess
    raw, mask = synthetic_motion(batch, frames, config.fps, np.random.default_rng(seed))
    return preprocess_batch(raw, mask, config)


@pytest.fixture(params=["random", "real-shaped"])
def make_inputs(request):
    """Parametrised input maker: random normals, or preprocessed walking-like motion."""
    return random_inputs if request.param == "random" else real_shaped_inputs


@pytest.fixture(scope="session")
def random_batch():
    """Return `random_inputs` (test modules cannot import conftest helpers)."""
    return random_inputs


class RecordingLogger:
    """Logger stand-in (the ROS and logging APIs share warning/info) that keeps every line."""

    def __init__(self) -> None:
        self.lines: list = []

    def warning(self, message: str) -> None:
        self.lines.append(("warning", message))

    def info(self, message: str) -> None:
        self.lines.append(("info", message))


@pytest.fixture
def recording_logger() -> RecordingLogger:
    """A fresh RecordingLogger."""
    return RecordingLogger()
