"""Each person against their own baseline, over time: a walker's four walks in a row.

For every Emotion-Gait walker with an acted angry, happy, neutral and sad walk, the four walks
are played one after another as one body (neutral first: someone walks up calm), each gait
looped to `segment_s` seconds (the gaits are 0.6 to 2.5 s, root-locked, so a loop is a walk on
the spot). The stream is written to a rosbag2 file, read back and fed by its stamps through the
node's pipeline (`EmotionPipeline`, the node's own code: smoothing and the abstain rule
included), once with `people.baseline` off and once on. Per walk: the label published most over
its second half against the acted and the perceived emotion. Per change of acted emotion (three
per walker): the seconds from the change to the first published label that names the new
emotion (p50/p90 over the changes that reached it, and how many did within their walk).

A model that trained on a walker has seen their walks; `emotion-node train --hold-out
emotion-gait:walkers-K` makes one that has not, and its walkers are the ones scored here (the
model's config.json records the folds it held out).
"""
from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from emotion_node.bench.flicker import bag_frames, replay_ok
from emotion_node.evaluation.loco import fold_keys
from emotion_node.evaluation.person_baseline import person_of
from emotion_node.model.model_files import read_config
from emotion_node.ros.bag_io import Track, write_bag
from emotion_node.ros.params import NodeParams
from emotion_node.ros.pipeline import EmotionPipeline, PipelineSettings, load_model
from emotion_node.skeleton.dataset import EMOTION_GAIT, index_clips
from emotion_node.skeleton.sources import read_clip

SEGMENT_S = 8.0
ORDER = ('normal', 'happy', 'sad', 'angry')  # acted emotions, in the order they are walked


def walkers(data_root: Any = None, folds: Sequence[str] = ()) -> Dict[str, List[Any]]:
    """Walker -> their four walks in ORDER (ClipInfo), of the walkers with one of each acted
    emotion; only those in `folds` when some are named."""
    clips = [c for c in index_clips(data_root) if c.dataset == EMOTION_GAIT.key]
    fold_of = dict(zip((c.path for c in clips), fold_keys(clips)))
    by_person: Dict[str, Dict[Optional[str], Any]] = {}
    for c in clips:
        key = person_of(c)
        if key is not None:
            by_person.setdefault(key, {})[c.acted] = c
    return {key: [walks[a] for a in ORDER] for key, walks in sorted(by_person.items())
            if all(a in walks for a in ORDER)
            and (not folds or fold_of[walks[ORDER[0]].path] in folds)}


def stream_track(walks: Sequence[Any], segment_s: float = SEGMENT_S) -> Track:
    """One body walking each walk in turn, each gait looped to segment_s seconds."""
    parts, fps = [], None
    for info in walks:
        positions, mask, rate = read_clip(info)
        if fps is not None and abs(rate - fps) > 1e-6:
            raise ValueError(f'{info.path}: {rate} fps, the walks before it {fps}')
        fps = rate
        n = int(round(segment_s * rate))
        reps = int(np.ceil(n / len(positions)))
        parts.append((np.tile(positions, (reps, 1, 1))[:n], np.tile(mask, (reps, 1))[:n]))
    assert fps is not None, 'at least one walk'
    return Track('1', np.concatenate([p for p, _ in parts]).astype(np.float32),
                 np.concatenate([m for _, m in parts]), float(fps))


def _published(pipeline: EmotionPipeline, messages: List[list]) -> List[Tuple[float, str, bool]]:
    """(stamp, published style, baseline-relative) of every labelled tick (one body)."""
    return [(now, r.style, r.baseline_relative) for now, r in replay_ok(pipeline, messages)]


def score_stream(ticks: List[Tuple[float, str, bool]], start: float, walks: Sequence[Any],
                 segment_s: float) -> Dict[str, Any]:
    """Per walk: the label published most over its second half; per change of acted emotion:
    seconds until a published label names it (None: not within the walk)."""
    labels, changes = [], []
    for k, info in enumerate(walks):
        begin, end = start + k * segment_s, start + (k + 1) * segment_s
        late = [s for t, s, _ in ticks if begin + segment_s / 2 <= t < end]
        labels.append(Counter(late).most_common(1)[0][0] if late else '')
        if k:
            hit = next((t for t, s, _ in ticks if begin <= t < end and s == info.acted), None)
            changes.append(None if hit is None else hit - begin)
    return {'labels': labels, 'acted': [w.acted for w in walks],
            'perceived': [w.emotion for w in walks], 'changes_s': changes,
            'relative_share': float(np.mean([r for _, _, r in ticks])) if ticks else 0.0}


def measure(models: Sequence[str], data_root: Any = None, backend: str = 'auto',
            segment_s: float = SEGMENT_S, params: Optional[Dict[str, Any]] = None
            ) -> Dict[str, Any]:
    """Every walker each model has not trained on (all walkers for a model that records no
    held-out folds), baselines off and on; the per-walker results and the summary rows."""
    results: Dict[str, List[Dict[str, Any]]] = {'off': [], 'auto': []}
    unseen_only = True
    for model_dir in models:
        p = NodeParams(model_path=model_dir, model_backend=backend).with_values(params or {})
        loaded = load_model(p)
        try:
            held = read_config(loaded.directory).get('training', {}).get('held_out', [])
            unseen_only &= bool(held)
            group = walkers(data_root, held)
            base = PipelineSettings.from_params(p)
            for key, walks in group.items():
                track = stream_track(walks, segment_s)
                with tempfile.TemporaryDirectory(prefix='emotion_baseline_') as tmp:
                    summary = write_bag(Path(tmp) / 'bag', [track])
                    messages = bag_frames(Path(tmp) / 'bag')
                start = summary.start_ns * 1e-9
                for mode in results:
                    pipeline = EmotionPipeline(
                        loaded.backend, loaded.preprocess, 1, p.window_length_s,
                        replace(base, baseline=mode == 'auto'), loaded.population,
                        p.people_baseline_max_people)
                    row = score_stream(_published(pipeline, messages), start, walks, segment_s)
                    results[mode].append({'walker': key, 'model': str(loaded.directory), **row})
        finally:
            loaded.backend.close()
    return {'walkers': results, 'rows': [summary_row(mode, rows) for mode, rows in
                                         results.items()],
            'unseen_walkers_only': unseen_only, 'segment_s': segment_s}


def summary_row(mode: str, rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Walk accuracy (acted, perceived), neutral walks given an emotion, change latencies."""
    walks = [(lab, a, p) for r in rows for lab, a, p in zip(r['labels'], r['acted'],
                                                             r['perceived'])]
    later = [(lab, a, p) for r in rows for lab, a, p in list(zip(r['labels'], r['acted'],
                                                                   r['perceived']))[1:]]
    changes = [c for r in rows for c in r['changes_s']]
    reached = [c for c in changes if c is not None]

    def share(items: List[tuple], k: int) -> Optional[float]:
        return round(100 * float(np.mean([x[0] == x[k] for x in items])), 1) if items else None
    neutral = [lab for lab, a, _ in walks if a == 'normal']
    return {'baseline': mode, 'walkers': len(rows), 'walks': len(walks),
            'acted_walk_accuracy': share(walks, 1), 'perceived_walk_accuracy': share(walks, 2),
            'acted_accuracy_walks_2_to_4': share(later, 1),
            'perceived_accuracy_walks_2_to_4': share(later, 2),
            'neutral_walk_false_emotion': round(100 * float(np.mean(
                [lab != 'normal' for lab in neutral])), 1) if neutral else None,
            'changes': len(changes), 'changes_reached': len(reached),
            'change_p50_s': round(float(np.percentile(reached, 50)), 2) if reached else None,
            'change_p90_s': round(float(np.percentile(reached, 90)), 2) if reached else None,
            'relative_tick_share': round(float(np.mean([r['relative_share'] for r in rows])), 3)
            if rows else None}


def print_rows(report: Dict[str, Any]) -> None:
    """The summary rows as a table."""
    print(f"{report['segment_s']:g} s per walk; "
          + ('walkers none of the models trained on' if report['unseen_walkers_only']
             else 'WARNING: some models trained on these walkers'))
    print('| baseline | walkers | acted % (walks 2-4) | perceived % (walks 2-4) | neutral walk '
          'given an emotion % | changes reached | change p50 / p90 s | ticks relative |')
    print('| --- | ---: | --- | --- | ---: | --- | --- | ---: |')
    for r in report['rows']:
        print(f"| {r['baseline']} | {r['walkers']} | {r['acted_walk_accuracy']} "
              f"({r['acted_accuracy_walks_2_to_4']}) | {r['perceived_walk_accuracy']} "
              f"({r['perceived_accuracy_walks_2_to_4']}) | {r['neutral_walk_false_emotion']} | "
              f"{r['changes_reached']} of {r['changes']} | {r['change_p50_s']} / "
              f"{r['change_p90_s']} | {r['relative_tick_share']} |")
