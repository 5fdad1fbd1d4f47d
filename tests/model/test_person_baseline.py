"""The person-relative reading: how a baseline forms, what it does to scores, its bounds."""
import math

import numpy as np
import pytest

from emotion_node.model.person_baseline import (
    BaselineConfig, PersonBaselines, RunningBaseline, log_softmax, population_from_config,
    population_mean, population_to_config, relative_log_probs)

LABELS = ('normal', 'happy', 'sad')


def test_strength_zero_and_an_average_person_leave_the_reading_unchanged():
    lp = log_softmax(np.array([[2.0, 0.5, -1.0], [0.0, 1.0, 0.3]]))
    population = np.array([-1.0, -1.5, -2.0])
    assert np.allclose(relative_log_probs(lp, np.array([0.0, 3.0, -4.0]), population, 0.0), lp)
    assert np.allclose(relative_log_probs(lp, population, population, 1.0), lp)


def test_a_person_who_usually_reads_sad_is_read_less_sad_and_the_shift_is_bounded():
    lp = log_softmax(np.array([0.0, 0.0, 1.0]))  # this window: sad
    population = np.zeros(3)
    usual = np.array([0.0, 0.0, 2.0])  # the person usually reads sad
    out = relative_log_probs(lp, usual, population, 1.0)
    assert np.argmax(out) != 2 and math.isclose(np.exp(out).sum(), 1.0, rel_tol=1e-9)
    capped = relative_log_probs(lp, usual, population, 1.0, max_shift=0.25)
    assert np.argmax(capped) == 2  # a bounded shift cannot overturn a clear reading


def test_running_baseline_is_a_plain_mean_then_exponential_and_counts_gaps_as_one_step():
    b = RunningBaseline(3)
    for k, t in enumerate((0.0, 0.5, 1.0)):
        b.update(np.full(3, float(k)), t, tau_s=100.0)
    assert np.allclose(b.mean, 1.0) and b.seconds == pytest.approx(1.0)
    assert b.ready(1.0) and not b.ready(1.5)
    b.update(np.full(3, 10.0), 3600.0, tau_s=100.0, max_step_s=0.5)  # an hour away
    assert b.seconds == pytest.approx(1.5)
    long = RunningBaseline(1)
    for k in range(2000):  # long after tau: the newest windows weigh step / tau each
        long.update(np.array([0.0 if k < 1000 else 1.0]), k * 0.5, tau_s=10.0)
    assert long.mean[0] == pytest.approx(1.0, abs=1e-6)


def test_person_baselines_evict_the_least_recently_seen_and_forget_after_keep_s():
    table = PersonBaselines(3, keep_s=10.0, max_people=2)
    table.update('a', np.zeros(3), 0.0, now=0.0, tau_s=60.0)
    table.update('b', np.zeros(3), 0.0, now=1.0, tau_s=60.0)
    table.update('a', np.zeros(3), 0.5, now=2.0, tau_s=60.0)
    table.update('c', np.zeros(3), 0.0, now=3.0, tau_s=60.0)  # b was seen least recently
    assert table.get('b') is None and table.get('a') is not None and len(table) == 2
    assert table.forget_stale(now=12.5) == ['a'] and len(table) == 1
    assert table.reset() == 1 and len(table) == 0
    with pytest.raises(ValueError):
        PersonBaselines(3, 1.0, 0)


def test_population_round_trips_through_the_config_and_names_missing_labels():
    pop = population_mean([np.log(np.full((4, 3), 1 / 3)), np.zeros((2, 3))])
    training = {'population_log_probs': population_to_config(pop, LABELS)}
    assert np.allclose(population_from_config(training, LABELS), pop, atol=1e-6)
    assert population_from_config({}, LABELS) is None
    with pytest.raises(ValueError, match='sad'):
        population_from_config({'population_log_probs': {'normal': 0.0, 'happy': 0.0}}, LABELS)


@pytest.mark.parametrize('field,value', [('strength', 1.5), ('strength', -0.1),
                                         ('tau_s', 0.0), ('min_s', math.nan)])
def test_baseline_config_names_the_setting_out_of_range(field, value):
    cfg = BaselineConfig(**{field: value})
    with pytest.raises(ValueError, match=field):
        cfg.check()
