"""Score smoothing and label hysteresis."""
import numpy as np
import pytest

from emotion_node.ros.smoothing import LabelSmoother, SmoothingConfig, label_changes

OFF = SmoothingConfig(enabled=False)
ON = SmoothingConfig(enabled=True, tau_s=1.0, margin=0.1, min_hold_s=1.0)


def close_call(n: int, seed: int = 0) -> list:
    """Two classes within a few points of each other, the leader flipping at random."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = 0.45 + rng.uniform(-0.04, 0.04)
        out.append(np.array([a, 0.9 - a, 0.1]))
    return out


def run(config: SmoothingConfig, probs: list, dt: float = 1 / 15) -> list:
    smoother = LabelSmoother(3)
    return [smoother.update(p, i * dt, config)[0] for i, p in enumerate(probs)]


def test_disabled_is_argmax():
    probs = close_call(50)
    assert run(OFF, probs) == [int(np.argmax(p)) for p in probs]


def test_hysteresis_stops_flicker_on_close_calls():
    probs = close_call(300)
    raw, smooth = label_changes(run(OFF, probs)), label_changes(run(ON, probs))
    assert raw > 50  # the raw argmax flickers
    assert smooth == 0


def test_real_change_switches_once_after_hold():
    probs = [np.array([0.8, 0.1, 0.1])] * 30 + [np.array([0.1, 0.8, 0.1])] * 60
    labels = run(ON, probs)
    assert label_changes(labels) == 1
    switch = labels.index(1)
    assert 30 < switch < 30 + 15, 'switches within a second of the change'


def test_min_hold_delays_a_switch():
    cfg = SmoothingConfig(tau_s=0.0, margin=0.0, min_hold_s=2.0)
    probs = [np.array([0.9, 0.05, 0.05])] * 5 + [np.array([0.05, 0.9, 0.05])] * 40
    labels = run(cfg, probs, dt=0.1)
    assert labels.index(1) == 20  # held 2 s from the first label at t=0


def test_scores_follow_the_time_constant():
    smoother = LabelSmoother(2)
    smoother.update(np.array([1.0, 0.0]), 0.0, ON)
    smoother.update(np.array([0.0, 1.0]), 1.0, ON)  # one time constant later
    assert smoother.scores[1] == pytest.approx(1 - np.exp(-1.0))


def test_time_going_back_restarts_the_average():
    smoother = LabelSmoother(2)
    smoother.update(np.array([1.0, 0.0]), 10.0, ON)
    smoother.update(np.array([0.0, 1.0]), 0.0, ON)
    assert smoother.scores.tolist() == [0.0, 1.0]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match=r'expected \(3,\) probabilities'):
        LabelSmoother(3).update(np.ones(2), 0.0, ON)
    with pytest.raises(ValueError, match='tau_s'):
        SmoothingConfig(tau_s=-1.0)


def test_label_changes_skips_empty():
    assert label_changes(['', 'happy', 'happy', '', 'sad', 'happy']) == 2


def test_neutral_below_publishes_neutral_for_unsure_emotions():
    """Class 0 is neutral. An emotion leading at 0.5 is published without the rule and replaced
    by neutral with it; a sure one (0.8) is published either way; a label that becomes unsure
    falls back to neutral after the hold time even though it still leads."""
    unsure = [np.array([0.3, 0.5, 0.2])] * 20
    sure = [np.array([0.1, 0.8, 0.1])] * 20
    rule = SmoothingConfig(tau_s=0.0, margin=0.1, min_hold_s=0.5, neutral_below=0.6)
    smoother = LabelSmoother(3, neutral=0)
    assert [smoother.update(p, i / 10, rule)[0] for i, p in enumerate(unsure)] == [0] * 20
    assert set(run(ON, unsure)) == {1}  # off by default
    smoother = LabelSmoother(3, neutral=0)
    labels = [smoother.update(p, i / 10, rule)[0] for i, p in enumerate(sure + unsure)]
    assert labels[:20] == [1] * 20
    assert labels[-1] == 0 and labels[20:].index(0) == 0  # held since t=0, so at once
    smoother = LabelSmoother(3, neutral=0)  # without smoothing the rule applies the same way
    assert smoother.update(unsure[0], 0.0, SmoothingConfig(enabled=False, neutral_below=0.6)) \
        == (0, pytest.approx(0.3))
    with pytest.raises(ValueError, match='neutral_below must be <= 1'):
        SmoothingConfig(neutral_below=1.5)
    with pytest.raises(ValueError, match='neutral class 3'):
        LabelSmoother(3, neutral=3)
