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


def test_folds_hold_out_whole_actions(tiny_cfg, two_dataset_roots):
    study = load_study(two_dataset_roots, tiny_cfg)
    assert study.emotion_contents == {"dataset-1": ["bow", "dash"],
                                      "dataset-2": ["walk", "wave-left-hand"]}
    assert study.contents == ["bow", "dash", "walk", "wave-left-hand"]
    for held in study.contents:
        idx = fold_indices(study, held)
        contents = {k: {study.records[i].info.content for i in v} for k, v in idx.items()}
        assert contents["test"] == {held}
        assert held not in contents["finetune"] | contents["pretrain"]  # in every dataset
        tested = {study.records[i].info.emotion for i in idx["test"]}
        assert tested == (set(study.labels) if held in ("bow", "dash") else {"normal", "tired"})
        assert all(study.records[i].info.emotion is not None for i in idx["finetune"])
        # Expressive styles still pre-train, from both datasets.
        pretrain = {(study.records[i].info.dataset, study.records[i].info.style)
                    for i in idx["pretrain"]}
        assert {("dataset-1", "old"), ("dataset-2", "youthful")} <= pretrain


def test_run_loco_writes_results_for_the_chosen_folds(tiny_cfg, tmp_path, two_dataset_roots):
    with pytest.raises(ValueError, match="not fold actions"):
        run_loco(two_dataset_roots, tiny_cfg, tmp_path / "bad", held_out=["no-such-action"],
                 progress=False)
    results = run_loco(two_dataset_roots, tiny_cfg, tmp_path, ablation=False,
                       layouts=("zed_body18",), damages=("upper_body",),
                       held_out=["wave-left-hand", "bow"], progress=False)
    assert results["folds"] == ["bow", "wave-left-hand"]  # the study's order, not the caller's
    assert set(results["variants"]) == {"tokenizer", "layout:zed_body18", "damage:upper_body",
                                        "baseline"}
    tok = results["variants"]["tokenizer"]
    assert tok["num_clips"] == 7 + 4 and 0.0 <= tok["clip_accuracy"] <= 1.0
    d1, d2 = tok["per_dataset"]["dataset-1"], tok["per_dataset"]["dataset-2"]
    assert (d1["num_clips"], d1["folds"], d2["num_clips"], d2["folds"]) == (
        7, ["bow"], 4, ["wave-left-hand"])
    assert set(tok["per_content"]) == {"dataset-1:bow", "dataset-2:wave-left-hand"}
    # A Dataset 2 normal clip called anything else counts as a false emotion.
    d2_normal = [p for p in tok["predictions"] if p["dataset"] == "dataset-2"
                 and p["label"] == "normal"]
    assert d2["false_emotion_rate"] == pytest.approx(
        np.mean([p["predicted"] != "normal" for p in d2_normal]))
    assert {p["style"] for p in tok["predictions"] if p["label"] == "tired"} == {
        "tired", "exhausted"}
    assert json.loads((tmp_path / "results.json").read_text())["folds"] == [
        "bow", "wave-left-hand"]
    for name in ("tokenizer", "tokenizer_dataset-1", "tokenizer_dataset-2"):
        assert (tmp_path / f"confusion_{name}.png").is_file()
    with np.load(tmp_path / "window_logits.npz") as logits:
        held = {key.split("|")[1] for key in logits.files}
    assert held == {"bow", "wave-left-hand"}


def test_person_folds_hold_out_whole_walkers(tiny_cfg, tmp_path, egait_root):
    study = load_study([egait_root], tiny_cfg)
    assert study.contents == [f"emotion-gait:walkers-{k}" for k in range(1, 6)]
    for held in study.contents:
        idx = fold_indices(study, held)
        people = {k: {study.records[i].info.person_key for i in v} for k, v in idx.items()}
        assert people["test"] and not people["test"] & (people["finetune"] | people["pretrain"])
    results = run_loco([egait_root], tiny_cfg, tmp_path, ablation=False, layouts=(),
                       damages=(), held_out=["emotion-gait:walkers-1"], progress=False)
    tok = results["variants"]["tokenizer"]["per_dataset"]["emotion-gait"]
    restricted = tok["restricted"]
    assert restricted["labels"] == ["normal", "happy", "sad", "angry"]
    assert len(restricted["confusion"]) == 4 and restricted["num_clips"] == tok["num_clips"]
    predictions = results["variants"]["tokenizer"]["predictions"]
    assert all(p["predicted_restricted"] in restricted["labels"] for p in predictions)
    assert restricted["clip_accuracy"] == pytest.approx(
        np.mean([p["predicted_restricted"] == p["label"] for p in predictions]))
