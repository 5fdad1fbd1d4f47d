"""Metrics and calibration of the evaluation (the command on real clips: tests/commands)."""
import numpy as np
import pytest

from emotion_node.evaluation import evaluate as ev


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
