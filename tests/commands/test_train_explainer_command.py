"""`emotion-node train-explainer` end to end on real clips (tiny tokenizer, tiny LLM), and the
refusal to resume a run with other settings."""
import json

import pytest
import torch

from emotion_node import cli
from emotion_node.model.model_files import tokenizer_fingerprint
from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer
from emotion_node.skeleton.dataset import default_data_root


@pytest.fixture
def two_actions(tmp_path):
    """Every style of two actions (bow, bye): the explainer trains on actions all styles share."""
    data = tmp_path / "data"
    (data / "data").mkdir(parents=True)
    source = default_data_root()
    for clip in sorted((source / "data").glob("dataset-1_b[oy][we]_*_001.*")):
        (data / "data" / clip.name).symlink_to(clip)
    (data / "cfg").symlink_to(source / "cfg")
    return data


def test_trains_saves_and_refuses_a_resume_with_other_settings(two_actions, tiny_llm, tmp_path,
                                                               monkeypatch, capsys):
    monkeypatch.setenv("EMOTION_NODE_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    config = TokenizerConfig(token_dim=tiny_llm.D, channels=16, stem_channels=8)
    tokenizer = save_tokenizer(SkeletonTokenizer(config).eval(), config, tmp_path / "tokenizer")
    out, run = tmp_path / "explainer", tmp_path / "run"
    argv = ["train-explainer", "--out", str(out), "--tokenizer", str(tokenizer), "--data",
            str(two_actions), "--llm", str(tiny_llm.dir), "--run-dir", str(run), "--holdout",
            "bye", "--stage1-steps", "1", "--stage2-steps", "1", "--threads", "1",
            "--no-progress"]
    assert cli.main([*argv, "--batch-size", "2"]) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(out) and summary["holdout"] == ["bye"]
    saved = json.loads((out / "explainer.json").read_text())
    assert saved["training"]["tokenizer"] == tokenizer_fingerprint(tokenizer)
    assert saved["training"]["train_config"]["batch_size"] == 2

    assert cli.main([*argv, "--batch-size", "3"]) == 2
    err = capsys.readouterr().err
    assert "batch_size: 2 there, 3 now" in err and "--fresh" in err
    assert cli.main([*argv, "--batch-size", "3", "--fresh"]) == 0
