"""Scoring the person-relative reading (`emotion_node.model.person_baseline`) on clips whose
person is known, without and with a baseline, in the ways a robot could have one:

- `others`: the mean of the person's other clips, labels unused (a robot that has watched
  someone for a while, uncalibrated);
- `neutral`: the person's clips whose acted (else labelled) emotion is neutral, the clip itself
  left out (a robot calibrated on a neutral walk: the upper bound);
- `stream`: the person's clips played in order, each read against the running baseline of the
  clips before it with the node's rule (`RunningBaseline`, `min_s`, `tau_s`): what the node
  has when someone walks up.

Clips without a baseline keep the absolute reading in both columns and are counted apart; the
paired figures are over the clips that have one.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from emotion_node.evaluation.loco_report import mcnemar
from emotion_node.model.person_baseline import (
    BaselineConfig, RunningBaseline, log_softmax, population_mean, relative_log_probs)

MODES = ("others", "neutral", "stream")
NEUTRAL = "normal"


def person_of(info: Any) -> Optional[str]:
    """The clip's performer as a key, None when the source names no single person (a library
    of unknown walkers is not one person)."""
    return info.person_key if info.person else None


def baselines(infos: Sequence[Any], log_probs: Sequence[np.ndarray], mode: str,
              cfg: BaselineConfig, stride_s: float) -> List[Optional[np.ndarray]]:
    """Per clip, the baseline (C,) it is read against under `mode`, or None without one.
    `log_probs` are each clip's window log-probabilities (W, C)."""
    if mode not in MODES:
        raise ValueError(f"unknown baseline mode {mode!r}; expected one of {list(MODES)}")
    by_person: Dict[str, List[int]] = defaultdict(list)
    for i, info in enumerate(infos):
        key = person_of(info)
        if key is not None:
            by_person[key].append(i)
    out: List[Optional[np.ndarray]] = [None] * len(infos)
    for members in by_person.values():
        if mode == "stream":
            _stream(members, infos, log_probs, cfg, stride_s, out)
            continue
        for i in members:
            if mode == "others":
                refs = [j for j in members if j != i]
            else:
                refs = [j for j in members if j != i and _calibration_label(infos[j]) == NEUTRAL]
            if refs:
                out[i] = np.concatenate([log_probs[j] for j in refs]).mean(axis=0)
    return out


def _calibration_label(info: Any) -> Optional[str]:
    """What the person was doing for calibration: the acted emotion where the source names
    one, else the clip's label."""
    return info.acted if info.acted is not None else info.emotion


def _stream(members: List[int], infos: Sequence[Any], log_probs: Sequence[np.ndarray],
            cfg: BaselineConfig, stride_s: float, out: List[Optional[np.ndarray]]) -> None:
    """The person's clips in take order as one stream, windows `stride_s` apart; a clip is
    read against the baseline as it stood when the clip began (None before `min_s`)."""
    running = RunningBaseline(log_probs[members[0]].shape[-1])
    clock = 0.0
    for i in sorted(members, key=lambda j: (infos[j].take, str(infos[j].path))):
        if running.ready(cfg.min_s):
            out[i] = running.mean.copy()
        for row in log_probs[i]:
            clock += stride_s
            running.update(row, clock, cfg.tau_s, max_step_s=stride_s)


def relative_clip_log_probs(log_probs: Sequence[np.ndarray],
                            bases: Sequence[Optional[np.ndarray]], population: np.ndarray,
                            cfg: BaselineConfig) -> List[np.ndarray]:
    """Each clip's window log-probabilities read against its baseline (unchanged without)."""
    return [w if b is None else relative_log_probs(w, b, population, cfg.strength, cfg.max_shift)
            .astype(np.float32) for w, b in zip(log_probs, bases)]


def fold_population(log_probs: Sequence[np.ndarray], datasets: Sequence[str]) -> np.ndarray:
    """The population mean of some clips: each dataset's mean window log-probability,
    averaged over datasets (`population_mean`)."""
    groups: Dict[str, List[np.ndarray]] = defaultdict(list)
    for w, key in zip(log_probs, datasets):
        groups[key].append(np.asarray(w))
    return population_mean([np.concatenate(g) for _, g in sorted(groups.items())])


def paired(y: Any, before: Any, after: Any) -> Dict[str, Any]:
    """Clips the relative reading gets right where the absolute one is wrong, the reverse, and
    the exact McNemar p (labels, absolute and relative predictions: integer sequences)."""
    gained, lost, p = mcnemar([int(a) == int(t) for a, t in zip(after, y)],
                              [int(b) == int(t) for b, t in zip(before, y)])
    return {"relative_right_absolute_wrong": gained, "absolute_right_relative_wrong": lost,
            "p_exact_mcnemar": p}


def as_log_probs(window_logits: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Window logits of each clip as log-probabilities (the baseline's space)."""
    return [log_softmax(w).astype(np.float32) for w in window_logits]

