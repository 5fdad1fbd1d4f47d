"""Shapes, masking, save/load and export-friendliness of the skeleton tokenizer."""
import json

import numpy as np
import pytest
import torch

from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.model_files import default_model_dir
from emotion_node.model.tokenizer import (
    OUTPUT_NAMES, SkeletonTokenizer, TokenizerConfig, count_parameters, load_tokenizer,
    save_tokenizer)
from emotion_node.skeleton.layouts import BODY_PARTS, layout_presence
from emotion_node.skeleton.preprocess import PreprocessConfig


def _small_config(**kw) -> TokenizerConfig:
    return TokenizerConfig(stem_channels=16, channels=24, token_dim=32, **kw)


def _inputs(batch: int = 3, frames: int = 30, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, 21, 3, generator=gen)
    mask = torch.ones(batch, frames, 21)
    return x, mask


def test_output_shapes_follow_the_config():
    config = _small_config(num_semantic_tokens=3)
    model = SkeletonTokenizer(config).eval()
    outs = model(*_inputs(batch=5))
    assert len(outs) == len(OUTPUT_NAMES)
    logits, temporal, spatial, semantic = outs
    assert logits.shape == (5, len(EMOTION_STYLES))
    assert temporal.shape == (5, config.num_temporal_tokens, 32)
    assert spatial.shape == (5, len(BODY_PARTS), 32)
    assert semantic.shape == (5, 3, 32)
    assert config.num_temporal_tokens == 8  # 30 frames -> 15 (stem) -> 8 (first block)


def test_window_length_comes_from_the_preprocess_config():
    config = _small_config(preprocess=PreprocessConfig(window_frames=20))
    model = SkeletonTokenizer(config).eval()
    _, temporal, _, _ = model(*_inputs(batch=2, frames=20))
    assert temporal.shape[1] == config.num_temporal_tokens == 5


def test_masked_joints_coordinates_do_not_affect_any_output():
    model = SkeletonTokenizer(_small_config()).eval()
    x, mask = _inputs()
    absent = ~torch.from_numpy(layout_presence("zed_body18"))
    mask[:, :, absent] = 0.0
    mask[1, 10:14] = 0.0  # a few lost frames too
    noisy = x.clone()
    noisy[mask == 0] = torch.randn(int((mask == 0).sum()), 3) * 100.0
    with torch.no_grad():
        for a, b in zip(model(x, mask), model(noisy, mask)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_the_mask_itself_changes_the_output():
    model = SkeletonTokenizer(_small_config()).eval()
    x, mask = _inputs()
    dropped = mask.clone()
    dropped[:, :, 8] = 0.0  # left wrist lost
    with torch.no_grad():
        assert not torch.allclose(model(x, mask)[0], model(x, dropped)[0])


def test_persons_in_a_batch_are_independent_in_eval_mode():
    model = SkeletonTokenizer(_small_config()).eval()
    x, mask = _inputs(batch=4)
    with torch.no_grad():
        full = model(x, mask)[0]
        single = model(x[2:3], mask[2:3])[0]
    torch.testing.assert_close(full[2:3], single, rtol=1e-5, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    config = _small_config(training={"seed": 3})
    model = SkeletonTokenizer(config)
    with torch.no_grad():  # non-trivial BatchNorm statistics must survive the trip too
        model.stem_norm.running_mean.uniform_(-1, 1)
    model.eval()
    save_tokenizer(model, config, tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["labels"] == list(EMOTION_STYLES)
    assert stored["preprocess"] == PreprocessConfig().to_dict()
    loaded, loaded_config = load_tokenizer(tmp_path)
    assert not loaded.training
    assert loaded_config.to_dict() == config.to_dict()
    assert list(loaded_config.body_parts) == list(config.body_parts)  # order = token order
    x, mask = _inputs()
    with torch.no_grad():
        for a, b in zip(model(x, mask), loaded(x, mask)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_load_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_tokenizer(tmp_path)


def test_bad_config_values_are_rejected():
    with pytest.raises(ValueError, match="num_heads"):
        TokenizerConfig(token_dim=30, num_heads=4)
    with pytest.raises(ValueError, match="unknown tokenizer config keys"):
        TokenizerConfig.from_dict({"width": 3})


def test_default_size_is_small():
    assert 50_000 <= count_parameters(SkeletonTokenizer(TokenizerConfig())) <= 300_000


def test_committed_default_model_loads_and_runs():
    directory = default_model_dir()
    if not (directory / "config.json").is_file():
        pytest.fail(f"the committed default model is missing from {directory}")
    model, config = load_tokenizer(directory)
    assert config.labels == EMOTION_STYLES
    x, mask = _inputs(batch=2, frames=config.preprocess.window_frames)
    with torch.no_grad():
        probs = torch.softmax(model(x, mask)[0], dim=-1).numpy()
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    assert "loco" in config.training  # the recipe's evaluation travels with the weights
