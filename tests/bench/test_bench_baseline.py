"""A walker's four walks in a row through the node's pipeline, person baselines off and on."""
import json
import shutil

import numpy as np
import pytest

from emotion_node.bench import baseline
from emotion_node.evaluation.evaluate import model_population
from emotion_node.evaluation.loco import fold_keys
from emotion_node.skeleton.dataset import index_clips


def test_a_stream_loops_each_walk_for_its_segment(egait_root):
    walks = baseline.walkers([egait_root])
    assert len(walks) == 4  # the four numbered walkers; the scene library names nobody
    first = next(iter(walks.values()))
    assert [w.acted for w in first] == list(baseline.ORDER)
    track = baseline.stream_track(first, segment_s=2.0)
    assert track.positions.shape[0] == 4 * int(round(2.0 * track.fps))
    assert track.mask.any(axis=1).all()


def test_score_stream_times_each_change_of_emotion():
    walks = [type('W', (), {'acted': a, 'emotion': p})() for a, p in
             zip(baseline.ORDER, ('normal', 'normal', 'sad', 'happy'))]
    # Published: normal throughout walk 1 and 2, sad from 0.5 s into walk 3, never angry.
    ticks = [(t, 'normal' if t < 4.5 else 'sad', t > 3.0) for t in np.arange(0.0, 8.0, 0.25)]
    row = baseline.score_stream(ticks, 0.0, walks, 2.0)
    assert row['labels'] == ['normal', 'normal', 'sad', 'sad']
    assert row['changes_s'] == [None, pytest.approx(0.5), None]
    summary = baseline.summary_row('auto', [row])
    assert summary['acted_walk_accuracy'] == 50.0 and summary['changes_reached'] == 1
    assert summary['neutral_walk_false_emotion'] == 0.0


def test_bench_baseline_scores_held_out_walkers_off_and_on(model_dir, egait_root, tmp_path):
    model = tmp_path / 'model'
    shutil.copytree(model_dir, model)
    model_population(model, [egait_root])  # baselines need the population mean
    config = json.loads((model / 'config.json').read_text())
    config['training']['held_out'] = sorted(set(fold_keys(index_clips([egait_root]))))
    (model / 'config.json').write_text(json.dumps(config, indent=2))
    report = baseline.measure([str(model)], [egait_root], 'onnxruntime', segment_s=3.0,
                              params={'people.baseline_min_s': 1.0})
    assert report['unseen_walkers_only']
    off, on = report['rows']
    assert (off['baseline'], on['baseline']) == ('off', 'auto')
    assert off['walkers'] == on['walkers'] == 4 and off['changes'] == 12
    assert off['relative_tick_share'] == 0.0 < on['relative_tick_share'] < 1.0
