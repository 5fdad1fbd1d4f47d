"""Metrics, calibration and `emotion-node evaluate` on a small folder of real clips."""
import argparse
import json

import numpy as np
import pytest

from emotion_node.commands import evaluate as evaluate_command
from emotion_node.evaluation import evaluate as ev
from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer
from emotion_node.skeleton.dataset import default_data_root


@pytest.fixture(scope="module")
def data_root():
    try:
        return default_data_root()
    except FileNotFoundError as err:
        pytest.skip(f"motion dataset not available: {err}")


def test_confusion_and_macro_f1_on_a_hand_checked_case():
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0])
    cm = ev.confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    # F1: class 0 = 2*1/(2+2) = 0.5, class 1 = 2*2/(2+3) = 0.8, class 2 = 0.
    assert ev.macro_f1(y_true, y_pred, 3) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert ev.macro_f1(y_true, y_true, 3) == 1.0


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    probs = np.tile([[0.75, 0.25]], (8, 1))
    y = np.array([0, 0, 0, 1] * 2)  # 75% correct at 75% confidence
    assert ev.expected_calibration_error(probs, y) == pytest.approx(0.0, abs=1e-9)
    sure = np.tile([[0.99, 0.01]], (8, 1))
    assert ev.expected_calibration_error(sure, y) == pytest.approx(0.24, abs=1e-6)


def test_fit_temperature_recovers_the_scale_of_overconfident_logits():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 2.0
    probs = ev.softmax(true_logits)
    y = np.array([rng.choice(5, p=p) for p in probs])
    t = ev.fit_temperature(true_logits * 3.0, y)  # logits three times too sharp
    assert t == pytest.approx(3.0, rel=0.1)
    assert ev.expected_calibration_error(ev.softmax(true_logits * 3.0, t), y) < \
        ev.expected_calibration_error(ev.softmax(true_logits * 3.0), y)


def test_bootstrap_interval_brackets_the_mean():
    correct = np.array([1] * 7 + [0] * 3)
    lo, hi = ev.bootstrap_ci(correct)
    assert lo < 0.7 < hi and 0.0 <= lo and hi <= 1.0


def test_clip_vote_averages_window_probabilities():
    logits = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]]))
    np.testing.assert_allclose(ev.clip_vote(logits), [0.4667, 0.5333], atol=1e-4)


def test_confusion_png_is_written(tmp_path):
    path = ev.save_confusion_png(np.array([[3, 1], [0, 4]]), ["a", "b"], tmp_path / "cm.png",
                                 "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory, data_root):
    """Four real clips: three emotion styles and one style outside the model's labels."""
    folder = tmp_path_factory.mktemp("clips")
    (folder / "data").mkdir()
    for name in ("dataset-1_bow_happy_001", "dataset-1_bow_sad_001",
                 "dataset-1_walk-left_angry_001", "dataset-1_bow_giant_001"):
        for ext in (".bvh", ".json"):
            (folder / "data" / (name + ext)).symlink_to(data_root / "data" / (name + ext))
    (folder / "cfg").symlink_to(data_root / "cfg")
    return folder


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model")
    config = TokenizerConfig(stem_channels=8, channels=16, token_dim=16)
    return save_tokenizer(SkeletonTokenizer(config).eval(), config, directory)


def _args(*argv):
    """Parse `emotion-node evaluate` options as the command line would."""
    parser = argparse.ArgumentParser()
    evaluate_command.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def test_evaluate_command_writes_the_documented_json(small_folder, small_model, tmp_path):
    out = tmp_path / "result.json"
    args = _args("--data", small_folder, "--model", small_model, "--json", out,
                  "--threads", 1)
    assert evaluate_command.main(args) == 0
    result = json.loads(out.read_text())
    for key in ("clip_accuracy", "window_accuracy", "macro_f1", "labels", "clips", "skipped"):
        assert key in result
    assert result["skipped"] == 1  # the giant clip
    assert [c["file"] for c in result["clips"]] == [
        "dataset-1_bow_happy_001.bvh", "dataset-1_bow_sad_001.bvh",
        "dataset-1_walk-left_angry_001.bvh"]
    for clip in result["clips"]:
        assert set(clip) == {"file", "label", "predicted", "confidence"}
        assert clip["predicted"] in result["labels"] and 0.0 < clip["confidence"] <= 1.0
    hits = np.mean([c["label"] == c["predicted"] for c in result["clips"]])
    assert result["clip_accuracy"] == pytest.approx(hits)
    assert result["num_windows"] > result["num_clips"] == 3


def test_evaluate_command_rejects_a_missing_folder(tmp_path, capsys):
    args = _args("--data", tmp_path / "nope", "--threads", 1)
    assert evaluate_command.main(args) == 2
    assert "nope" in capsys.readouterr().err


def test_evaluate_command_reports_a_missing_model(small_folder, tmp_path, capsys):
    args = _args("--data", small_folder, "--model", tmp_path / "no_model", "--threads", 1)
    assert evaluate_command.main(args) == 2
    assert "no_model" in capsys.readouterr().err
