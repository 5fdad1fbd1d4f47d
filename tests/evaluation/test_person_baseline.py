"""Which baseline each clip is read against, and the study table of a walker-disjoint study."""
import json
from pathlib import Path

import numpy as np
import pytest

from emotion_node.evaluation import person_baseline as pb
from emotion_node.evaluation.person_baseline_study import study_table
from emotion_node.evaluation.loco import WINDOW_LOGITS_FILE, window_logits_key
from emotion_node.model.person_baseline import BaselineConfig
from emotion_node.skeleton.dataset import ClipInfo, index_clips


def clip(person, take, emotion, acted=None):
    return ClipInfo(Path(f'{person}_{take}.npy'), 'gait', emotion, take, 'emotion-gait',
                    emotion, person, 'g', acted=acted)


def test_baselines_per_mode():
    infos = [clip('a', 0, 'angry', 'normal'), clip('a', 1, 'normal', 'sad'),
             clip('a', 2, 'sad', 'angry'), clip(None, 3, 'happy'), clip('b', 4, 'happy')]
    log_probs = [np.full((2, 3), float(k)) for k in range(5)]
    cfg = BaselineConfig(min_s=0.9)
    others = pb.baselines(infos, log_probs, 'others', cfg, 0.5)
    assert np.allclose(others[0], 1.5) and others[3] is None and others[4] is None
    neutral = pb.baselines(infos, log_probs, 'neutral', cfg, 0.5)  # the acted-neutral walk
    assert neutral[0] is None and np.allclose(neutral[1], 0.0) and np.allclose(neutral[2], 0.0)
    stream = pb.baselines(infos, log_probs, 'stream', cfg, 0.5)
    # Clip 0's two windows span 0.5 s (< min_s); after clip 1 they span 1.5 s.
    assert stream[0] is None and stream[1] is None and np.allclose(stream[2], 0.5)
    with pytest.raises(ValueError, match='unknown baseline mode'):
        pb.baselines(infos, log_probs, 'friends', cfg, 0.5)


def test_study_table_reads_a_walker_disjoint_study(egait_root, tmp_path):
    """A study's saved window logits: walkers who always read one label more than others are
    pulled back by their baseline; the table has a row per mode and strength."""
    infos = [c for c in index_clips([egait_root])]
    labels = ['normal', 'happy', 'sad', 'angry', 'proud', 'not-confident', 'tired']
    saved, rng = {}, np.random.default_rng(0)
    for i, info in enumerate(infos):
        logits = rng.normal(0, 0.1, (3, 7)).astype(np.float32)
        logits[:, labels.index(info.emotion)] += 1.0  # the truth, a little ...
        if info.person:
            logits[:, 2] += 1.5  # ... under every named walker's sad bias
        saved[window_logits_key('tokenizer', f'fold-{i % 2}', info.path.stem)] = logits
    np.savez(tmp_path / WINDOW_LOGITS_FILE, **saved)
    (tmp_path / 'results.json').write_text(json.dumps({'labels': labels}))
    rows = study_table(tmp_path, [egait_root], strengths=(0.0, 1.0),
                          cfg=BaselineConfig(min_s=0.0))
    body = rows[2:]
    assert len(body) == 6 and body[0].startswith('| others | 0 | 16 |')
    before, after = (float(x) for x in body[1].split('|')[4].replace('%', '').split('->'))
    assert after > before  # the sad bias removed, the truth shows


def test_kinematic_table_scores_a_head_with_and_without_the_baseline(egait_root):
    from emotion_node.evaluation.person_baseline_study import kinematic_table

    rows = kinematic_table([egait_root])
    body = [r.split('|')[1:-1] for r in rows[2:]]
    assert [(b[0].strip(), b[1].strip(), b[2].strip()) for b in body] == [
        ('others', kind, '16') for kind in ('absolute', 'relative', 'both')] + [
        ('neutral', kind, '12') for kind in ('absolute', 'relative', 'both')]
    assert all(0.0 <= float(x) <= 100.0 for b in body for x in b[3:])
