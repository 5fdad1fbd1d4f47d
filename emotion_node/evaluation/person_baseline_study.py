"""The person-relative reading on a walker-disjoint study's held-out clips (`train --loco`,
then `train --person-baseline DIR`): the table EVALUATION.md reports."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional, Sequence

import numpy as np

from emotion_node.evaluation.loco import parse_window_logits_key
from emotion_node.evaluation.person_baseline import (
    MODES, NEUTRAL, baselines, fold_population, paired)
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
            a = _clip_pred([log_probs[i] for i in keep])
            r = _clip_pred([rel[i] for i in keep])
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


def _clip_pred(log_probs: Sequence[np.ndarray]) -> np.ndarray:
    """Each clip's label of highest mean window probability (the study's clip rule)."""
    return np.array([np.exp(np.asarray(w, np.float64)).mean(axis=0).argmax() for w in log_probs])
