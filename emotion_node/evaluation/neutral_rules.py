"""Rules that make `normal` the default, tried on a study's saved held-out logits.

Two rules a node could apply after the model: a prior on neutral (add `bias` to the normal
logit) and an abstain rule (a non-neutral label only when its probability reaches `tau`, else
normal). Each is scored like the study, per dataset: clip accuracy (mean of window
probabilities), window accuracy and the false-emotion rate (normal clips given another label).
The study's own folds keep it honest: no rule is fitted on the clips it is scored on.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from emotion_node.evaluation.evaluate import softmax
from emotion_node.evaluation.loco import WINDOW_LOGITS_FILE, parse_window_logits_key

BIASES = (0.0, 0.5, 1.0, 1.5, 2.0)
TAUS = (0.0, 0.4, 0.5, 0.6, 0.7)


def load_study_logits(study_dir: Path, variant: str = "tokenizer"
                      ) -> Tuple[List[str], List[Tuple[str, int, np.ndarray]]]:
    """The study's labels and, per held-out clip, (dataset, true class, window logits)."""
    results = json.loads((Path(study_dir) / "results.json").read_text())
    labels = list(results["labels"])
    truth = {Path(p["file"]).stem: (p["dataset"], labels.index(p["label"]))
             for p in results["variants"][variant]["predictions"]}
    clips = []
    with np.load(Path(study_dir) / WINDOW_LOGITS_FILE) as saved:
        for key in saved.files:
            name, _held_out, stem = parse_window_logits_key(key)
            if name == variant:
                dataset, label = truth[Path(stem).stem]
                clips.append((dataset, label, saved[key]))
    if not clips:
        raise ValueError(f"{study_dir}: no saved logits of variant {variant!r}")
    return labels, clips


def _decide(probs: np.ndarray, neutral: int, tau: float) -> np.ndarray:
    """Argmax, except a non-neutral winner below `tau` becomes neutral."""
    best = probs.argmax(-1)
    return np.where((best != neutral) & (probs.max(-1) < tau), neutral, best)


def score_rule(clips: Sequence[Tuple[str, int, np.ndarray]], neutral: int, bias: float = 0.0,
               tau: float = 0.0) -> Dict[str, Dict[str, Any]]:
    """Per dataset: clip and window accuracy and false-emotion rates under one rule."""
    out: Dict[str, Dict[str, Any]] = {}
    for dataset in sorted({c[0] for c in clips}):
        clip_right, window_right, clip_false, window_false = [], [], [], []
        clip_truth: List[int] = []
        clip_preds: List[int] = []
        for _, label, logits in (c for c in clips if c[0] == dataset):
            shifted = logits.astype(np.float64)  # a copy
            shifted[:, neutral] += bias
            probs = softmax(shifted)
            clip_pred = int(_decide(probs.mean(0), neutral, tau))
            window_pred = _decide(probs, neutral, tau)
            clip_right.append(clip_pred == label)
            clip_truth.append(label)
            clip_preds.append(clip_pred)
            window_right.extend((window_pred == label).tolist())
            if label == neutral:
                clip_false.append(clip_pred != neutral)
                window_false.extend((window_pred != neutral).tolist())
        out[dataset] = {
            **_class_scores(clip_truth, clip_preds, labels_present=sorted(set(clip_truth))),
            "clip_accuracy": float(np.mean(clip_right)),
            "window_accuracy": float(np.mean(window_right)),
            "false_emotion_rate": float(np.mean(clip_false)) if clip_false else float("nan"),
            "false_emotion_window_rate": (float(np.mean(window_false)) if window_false
                                          else float("nan")),
        }
    return out


def _class_scores(truth: List[int], preds: List[int], labels_present: List[int]) -> dict:
    """Clip recall of each true class, and macro-F1 over the classes the dataset has (a
    prediction of another class counts against precision nowhere, against recall everywhere)."""
    y, p = np.array(truth), np.array(preds)
    recall = {int(c): float((p[y == c] == c).mean()) for c in labels_present}
    f1 = []
    for c in labels_present:
        tp, pred_c, true_c = float(((p == c) & (y == c)).sum()), (p == c).sum(), (y == c).sum()
        f1.append(2 * tp / (pred_c + true_c) if pred_c + true_c else 0.0)
    return {"clip_recall": recall, "clip_macro_f1": float(np.mean(f1))}


def rule_details(study_dir: Path, bias: float = 0.0, tau: float = 0.0) -> List[str]:
    """Per dataset, one rule's clip accuracy, macro-F1 over the dataset's classes, per-class
    recall and false-emotion rate (e.g. the node's default abstain rule, tau = 0.7)."""
    labels, clips = load_study_logits(study_dir)
    rows = [f"rule: prior on normal b = {bias:g}, abstain below tau = {tau:g}"]
    for dataset, s in score_rule(clips, labels.index("normal"), bias, tau).items():
        recall = ", ".join(f"{labels[c]} {100 * r:.1f}" for c, r in s["clip_recall"].items())
        rows.append(f"- {dataset}: clip {100 * s['clip_accuracy']:.1f} %, macro-F1 "
                    f"{s['clip_macro_f1']:.3f} over its {len(s['clip_recall'])} classes, "
                    f"false-emotion {100 * s['false_emotion_rate']:.1f} %; recall: {recall}")
    return rows


def neutral_rules_table(study_dir: Path, biases: Sequence[float] = BIASES,
                        taus: Sequence[float] = TAUS) -> List[str]:
    """Markdown rows: every prior and every abstain threshold, per dataset."""
    labels, clips = load_study_logits(study_dir)
    neutral = labels.index("normal")
    datasets = sorted({c[0] for c in clips})
    head = " | ".join(f"{d} clip / window / false-emotion %" for d in datasets)
    rows = [f"| rule | {head} |", "| --- |" + " --- |" * len(datasets)]
    rules = [(f"prior on normal, b = {b:g}", b, 0.0) for b in biases]
    rules += [(f"abstain below tau = {t:g}", 0.0, t) for t in taus if t > 0]
    for name, bias, tau in rules:
        scores = score_rule(clips, neutral, bias, tau)
        cells = [f"{100 * s['clip_accuracy']:.1f} / {100 * s['window_accuracy']:.1f} / "
                 f"{100 * s['false_emotion_rate']:.1f}" for s in (scores[d] for d in datasets)]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows
