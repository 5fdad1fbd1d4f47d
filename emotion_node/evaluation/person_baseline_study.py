"""The person-relative reading on a walker-disjoint study's held-out clips (`train --loco`,
then `train --person-baseline DIR`): the table EVALUATION.md reports."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, List, Optional, Sequence

import numpy as np

from emotion_node.evaluation.evaluate import clip_vote
from emotion_node.evaluation.loco import parse_window_logits_key
from emotion_node.evaluation.person_baseline import (
    MODES, NEUTRAL, baselines, fold_population, paired, person_of)
from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.person_baseline import BaselineConfig, log_softmax, relative_log_probs
from emotion_node.skeleton.dataset import index_clips


def study_table(study_dir: Path, data_root: Any = None,
                strengths: Sequence[float] = (0.25, 0.5, 0.75, 1.0),
                modes: Sequence[str] = MODES, cfg: Optional[BaselineConfig] = None,
                stride_s: float = 0.5) -> List[str]:
    """Markdown rows: a walker-disjoint study's held-out clips (`train --loco`) read without
    and with each person's baseline. Each fold's population mean comes from the other folds'
    held-out clips, so nothing of the scored person's fold shapes it."""
    results = json.loads((Path(study_dir) / "results.json").read_text())
    labels = list(results["labels"])
    saved = np.load(Path(study_dir) / "window_logits.npz")
    by_stem = {c.path.stem: c for c in index_clips(data_root)}
    infos, log_probs, folds = [], [], []
    for key in saved.files:
        variant, held, stem = parse_window_logits_key(key)
        info = by_stem.get(stem) if variant == "tokenizer" else None
        if info is None or info.emotion not in labels:
            continue
        infos.append(info)
        log_probs.append(log_softmax(saved[key]).astype(np.float32))
        folds.append(held)
    y = [labels.index(i.emotion) for i in infos]
    populations = {f: fold_population([w for w, g in zip(log_probs, folds) if g != f],
                                      [i.dataset for i, g in zip(infos, folds) if g != f])
                   for f in sorted(set(folds))}
    base = cfg or BaselineConfig()
    rows = ["| baseline | strength | gaits with one | 7-way % absolute -> relative | "
            "false-emotion % on neutral | acted emotion % | paired (perceived), better vs "
            "worse, p |", "| --- | ---: | ---: | --- | --- | --- | --- |"]
    for mode in modes:
        bases = baselines(infos, log_probs, mode, base, stride_s)
        for strength in strengths:
            cfg_s = BaselineConfig(strength, base.min_s, base.tau_s, base.max_shift)
            rel = [w if b is None else relative_log_probs(w, b, populations[f], strength,
                                                          cfg_s.max_shift)
                   for w, b, f in zip(log_probs, bases, folds)]
            keep = [i for i, b in enumerate(bases) if b is not None]
            if not keep:
                rows.append(f"| {mode} | {strength:g} | 0 | - | - | - | - |")
                continue
            a = np.array([clip_vote(log_probs[i]).argmax() for i in keep])
            r = np.array([clip_vote(rel[i]).argmax() for i in keep])
            t = np.array([y[i] for i in keep])
            neutral = t == labels.index(NEUTRAL)
            acted = [k for k, i in enumerate(keep) if infos[i].acted in labels]
            ta = np.array([labels.index(infos[keep[k]].acted) for k in acted])
            test = paired(t, a, r)
            rows.append(
                f"| {mode} | {strength:g} | {len(keep)} | {100 * (a == t).mean():.1f} -> "
                f"{100 * (r == t).mean():.1f} | {100 * (a[neutral] != t[neutral]).mean():.1f} -> "
                f"{100 * (r[neutral] != t[neutral]).mean():.1f} | "
                + (f"{100 * (a[acted] == ta).mean():.1f} -> {100 * (r[acted] == ta).mean():.1f}"
                   f" ({len(acted)})" if acted else "-")
                + f" | {test['relative_right_absolute_wrong']} vs "
                  f"{test['absolute_right_relative_wrong']}, p = {test['p_exact_mcnemar']:.3f} |")
    return rows


def kinematic_table(data_root: Any = None, l2: float = 0.1) -> List[str]:
    """Markdown rows: what a head trained to read a window together with the person's
    baseline can do, on Emotion-Gait's named walkers in the study's walker folds. Kinematic
    features of each gait (the study's baseline features, mean over windows); a balanced
    logistic regression on the absolute features, on the features minus the person's baseline
    (others: the mean of their other gaits; neutral: their acted-neutral gait) and on both,
    each scored against the perceived and the acted label."""
    from emotion_node.evaluation.baseline import LogisticRegression, baseline_features
    from emotion_node.evaluation.loco import fold_keys
    from emotion_node.skeleton.preprocess import PreprocessConfig, preprocess_batch
    from emotion_node.training.data import load_records, raw_eval_windows

    labels = list(EMOTION_STYLES)
    infos = [c for c in index_clips(data_root) if c.person and c.emotion in labels
             and c.acted in labels]
    if not infos:
        raise ValueError("no clip names its person and an acted emotion (Emotion-Gait)")
    folds = fold_keys(infos)
    config = PreprocessConfig()
    feats = []
    for record in load_records(infos):
        raw, raw_mask, _ = raw_eval_windows(record, config)
        x, mask = preprocess_batch(raw, raw_mask, config)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            feats.append(np.nanmean(baseline_features(x, mask, raw, raw_mask, config.fps), 0))
    table = np.array(feats)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # features no gait has (toes)
        fill = np.nan_to_num(np.nanmean(table, axis=0))
    table = np.where(np.isfinite(table), table, fill)
    people: dict = {}
    for i, info in enumerate(infos):
        people.setdefault(person_of(info), []).append(i)
    rows = ["| baseline | features | gaits | perceived label % | acted emotion % |",
            "| --- | --- | ---: | ---: | ---: |"]
    for mode in ("others", "neutral"):
        refs = {}
        for i, info in enumerate(infos):
            mates = [j for j in people[person_of(info)] if j != i and
                     (mode == "others" or infos[j].acted == NEUTRAL)]
            if mates and not (mode == "neutral" and info.acted == NEUTRAL):
                refs[i] = table[mates].mean(axis=0)
        for kind in ("absolute", "relative", "both"):
            inputs = {i: _head_input(table[i], ref, kind) for i, ref in refs.items()}
            scores = []
            for truth in ("emotion", "acted"):
                y = np.array([labels.index(getattr(info, truth)) for info in infos])
                right = []
                for held in sorted(set(folds)):
                    train = [i for i in refs if folds[i] != held]
                    test = [i for i in refs if folds[i] == held]
                    if not test:
                        continue
                    counts = np.bincount(y[train], minlength=len(labels)).astype(float)
                    clf = LogisticRegression(l2=l2).fit(
                        np.stack([inputs[i] for i in train]), y[train], len(labels),
                        sample_weight=1.0 / np.maximum(counts[y[train]], 1.0))
                    pred = clf.logits(np.stack([inputs[i] for i in test])).argmax(axis=1)
                    right += list(pred == y[test])
                scores.append(100 * float(np.mean(right)))
            rows.append(f"| {mode} | {kind} | {len(refs)} | {scores[0]:.1f} | {scores[1]:.1f} |")
    return rows


def _head_input(features: np.ndarray, baseline: np.ndarray, kind: str) -> np.ndarray:
    """A gait's features as the head reads them: absolute, minus the baseline, or both."""
    relative = features - baseline
    return {"absolute": features, "relative": relative,
            "both": np.concatenate([features, relative])}[kind]
