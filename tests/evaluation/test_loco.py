"""The leave-one-content-out study: folds never leak; run_loco writes what EVALUATION.md reads."""
import json

import numpy as np
import pytest
import torch

from emotion_node.evaluation.loco import fold_indices, load_study, run_loco
from emotion_node.training.train_tokenizer import TrainConfig

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_cfg():
    return TrainConfig(pretrain_steps=2, finetune_steps=2, batch_size=8, pool_per_clip=4,
                       threads=1)


def test_folds_hold_out_whole_actions(tiny_cfg):
    study = load_study(None, tiny_cfg)
    for held in study.contents:
        idx = fold_indices(study, held)
        contents = {k: {study.records[i].info.content for i in v} for k, v in idx.items()}
        assert contents["test"] == {held}
        assert held not in contents["finetune"] | contents["pretrain"]
        assert {study.records[i].info.style for i in idx["test"]} == set(study.labels)


def test_run_loco_writes_results_for_the_chosen_folds(tiny_cfg, tmp_path):
    with pytest.raises(ValueError, match="not shared"):
        run_loco(None, tiny_cfg, tmp_path / "bad", held_out=["no-such-action"], progress=False)
    results = run_loco(None, tiny_cfg, tmp_path, ablation=False, layouts=("zed_body18",),
                       held_out=["dash", "bow"], progress=False)
    assert results["folds"] == ["bow", "dash"]  # the study's order, not the caller's
    assert set(results["variants"]) == {"tokenizer", "layout:zed_body18", "baseline"}
    tok = results["variants"]["tokenizer"]
    assert tok["num_clips"] == 14 and 0.0 <= tok["clip_accuracy"] <= 1.0
    assert json.loads((tmp_path / "results.json").read_text())["folds"] == ["bow", "dash"]
    assert (tmp_path / "confusion_tokenizer.png").is_file()
    with np.load(tmp_path / "window_logits.npz") as logits:
        held = {key.split("|")[1] for key in logits.files}
    assert held == {"bow", "dash"}
