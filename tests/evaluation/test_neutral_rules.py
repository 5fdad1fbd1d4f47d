"""Neutral rules on a study's saved logits: a prior or an abstain rule turns unsure emotions
into normal, scored per dataset."""
import json

import numpy as np
import pytest

from emotion_node.evaluation.loco import WINDOW_LOGITS_FILE, window_logits_key
from emotion_node.evaluation.neutral_rules import (
    load_study_logits, neutral_rules_table, rule_details, score_rule)

LABELS = ["normal", "happy", "sad"]


def write_study(path, clips):
    """results.json + window_logits.npz as `run_loco` writes them."""
    predictions = [{"file": f"/data/{stem}.bvh", "dataset": dataset, "label": label,
                    "predicted": label} for stem, dataset, label, _ in clips]
    (path / "results.json").write_text(json.dumps(
        {"labels": LABELS, "variants": {"tokenizer": {"predictions": predictions}}}))
    np.savez_compressed(path / WINDOW_LOGITS_FILE, **{
        window_logits_key("tokenizer", "walk", stem): np.asarray(logits, np.float32)
        for stem, _, _, logits in clips})


def test_abstain_and_prior_turn_unsure_emotions_into_normal(tmp_path):
    write_study(tmp_path, [
        ("d1_normal", "dataset-1", "normal", [[0.0, 0.4, 0.0], [0.0, 0.5, 0.0]]),  # unsure happy
        ("d1_happy", "dataset-1", "happy", [[0.0, 3.0, 0.0], [0.0, 3.0, 0.0]]),   # sure happy
        ("d2_normal", "dataset-2", "normal", [[2.0, 0.0, 0.0]]),
    ])
    labels, clips = load_study_logits(tmp_path)
    assert labels == LABELS and len(clips) == 3
    plain = score_rule(clips, 0)
    assert plain["dataset-1"]["false_emotion_rate"] == 1.0
    assert plain["dataset-1"]["clip_accuracy"] == 0.5
    abstain = score_rule(clips, 0, tau=0.5)
    assert abstain["dataset-1"] == {"clip_accuracy": 1.0, "window_accuracy": 1.0,
                                    "false_emotion_rate": 0.0, "false_emotion_window_rate": 0.0,
                                    "clip_recall": {0: 1.0, 1: 1.0}, "clip_macro_f1": 1.0}
    assert plain["dataset-1"]["clip_recall"] == {0: 0.0, 1: 1.0}
    assert plain["dataset-1"]["clip_macro_f1"] == pytest.approx(np.mean([0.0, 2 / 3]))
    details = rule_details(tmp_path, tau=0.5)
    assert details[1] == ("- dataset-1: clip 100.0 %, macro-F1 1.000 over its 2 classes, "
                          "false-emotion 0.0 %; recall: normal 100.0, happy 100.0")
    prior = score_rule(clips, 0, bias=1.0)
    assert prior["dataset-1"]["false_emotion_rate"] == 0.0
    assert prior["dataset-2"]["clip_accuracy"] == 1.0
    table = neutral_rules_table(tmp_path, biases=(0.0,), taus=(0.5,))
    assert table[2] == "| prior on normal, b = 0 | 50.0 / 50.0 / 100.0 | 100.0 / 100.0 / 0.0 |"
    assert table[3].startswith("| abstain below tau = 0.5 | 100.0 / 100.0 / 0.0 |")


def test_a_study_without_saved_logits_is_refused(tmp_path):
    write_study(tmp_path, [])
    with pytest.raises(ValueError, match="no saved logits"):
        load_study_logits(tmp_path)
