"""Scoring a trained tokenizer: window and clip predictions, metrics, calibration, plots."""
from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from emotion_node.evaluation import person_baseline as pb
from emotion_node.model import model_files
from emotion_node.model.person_baseline import (
    CONFIG_KEY, BaselineConfig, population_from_config, population_to_config)
from emotion_node.training.data import ClipRecord, eval_windows, load_records
from emotion_node.model.tokenizer import SkeletonTokenizer, load_tokenizer
from emotion_node.skeleton.damage import TrackerDamage
from emotion_node.skeleton.dataset import DATASETS, DataRoots, resolve_roots, scan_clips
from emotion_node.skeleton.preprocess import PreprocessConfig


@torch.no_grad()
def window_logits(model: SkeletonTokenizer, x: np.ndarray, mask: np.ndarray,
                  batch_size: int = 256) -> np.ndarray:
    """Logits (W, C) of preprocessed windows (W, T, 21, 3) with masks (W, T, 21)."""
    model.eval()
    out = [model(torch.from_numpy(x[i:i + batch_size]).float(),
                 torch.from_numpy(mask[i:i + batch_size]).float())[0]
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, len(model.config.labels)), np.float32)


def clip_logits(model: SkeletonTokenizer, records: Sequence[ClipRecord],
                config: PreprocessConfig, stride_s: float = 0.5,
                presence: Optional[np.ndarray] = None,
                damage: Optional[TrackerDamage] = None) -> List[np.ndarray]:
    """Per clip, the logits (W, C) of its sliding windows (optionally on a joint subset, or
    through tracker damage drawn from the clip's name, the same for every model)."""
    return [window_logits(model, *eval_windows(r, config, stride_s, presence, damage,
                                               zlib.crc32(r.info.path.name.encode())))
            for r in records]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature."""
    z = np.asarray(logits, np.float64) / temperature
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def clip_vote(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """A clip's class distribution: the mean of its windows' probabilities."""
    return softmax(logits, temperature).mean(axis=0)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts, rows = true class, columns = predicted."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """Unweighted mean of per-class F1 over classes present in truth or prediction."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    support, predicted = cm.sum(1), cm.sum(0)
    used = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=used)
    return float(f1[used].mean()) if used.any() else 0.0


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> float:
    """ECE: confidence-weighted gap between confidence and accuracy over equal-width bins."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood (log-spaced search, then refined)."""
    if len(y_true) == 0:
        return 1.0

    def nll(t: float) -> float:
        p = softmax(logits, t)[np.arange(len(y_true)), y_true]
        return float(-np.log(np.maximum(p, 1e-12)).mean())

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 121))
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    fine = best * np.exp(np.linspace(-0.03, 0.03, 31))
    return float(fine[int(np.argmin([nll(t) for t in fine]))])


def bootstrap_ci(correct: np.ndarray, n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0) -> Tuple[float, float]:
    """Percentile bootstrap interval of the mean of a 0/1 array."""
    correct = np.asarray(correct, np.float64)
    if correct.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = correct[rng.integers(0, correct.size, (n_boot, correct.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def save_confusion_png(cm: np.ndarray, labels: Sequence[str], path: Path, title: str) -> Path:
    """Write a row-normalised confusion matrix with counts as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.4), dpi=110)
    ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if rates[i, j] > 0.5 else "black")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def summarize(logits: Sequence[np.ndarray], labels: Sequence[int], num_classes: int,
              temperature: float = 1.0) -> Dict[str, Any]:
    """Window and clip accuracy, clip macro-F1 and predictions of clips given per-clip logits."""
    window_y = np.concatenate([np.full(len(clip), y) for clip, y in zip(logits, labels)])
    window_p = np.concatenate([clip.argmax(axis=1) for clip in logits])
    votes = np.stack([clip_vote(clip, temperature) for clip in logits])
    clip_y = np.asarray(labels)
    clip_p = votes.argmax(axis=1)
    return {
        "window_accuracy": float((window_p == window_y).mean()),
        "clip_accuracy": float((clip_p == clip_y).mean()),
        "macro_f1": macro_f1(clip_y, clip_p, num_classes),
        "window_macro_f1": macro_f1(window_y, window_p, num_classes),
        "num_clips": int(len(clip_y)),
        "num_windows": int(len(window_y)),
        "clip_pred": clip_p,
        "clip_confidence": votes.max(axis=1),
        "confusion": confusion_matrix(clip_y, clip_p, num_classes),
    }


def restrict_to(logits: Sequence[np.ndarray], labels: Sequence[int], names: Sequence[str],
                allowed: Sequence[str]) -> Tuple[List[np.ndarray], List[int]]:
    """Per-clip logits over the `allowed` labels only (in that order) and the labels renumbered:
    a dataset whose annotators chose among four is also scored among those four."""
    columns = [list(names).index(a) for a in allowed]
    return ([np.asarray(w)[:, columns] for w in logits],
            [columns.index(int(y)) for y in labels])


def false_emotion_rate(y: np.ndarray, pred: np.ndarray, labels: Sequence[str],
                       neutral: str = "normal") -> Optional[float]:
    """Share of neutral clips (or windows) given another label; None without neutral ones."""
    if neutral not in labels:
        return None
    k = list(labels).index(neutral)
    y, pred = np.asarray(y), np.asarray(pred)
    return float((pred[y == k] != k).mean()) if (y == k).any() else None


def class_recall(y: np.ndarray, pred: np.ndarray, labels: Sequence[str]
                 ) -> Dict[str, Optional[float]]:
    """Recall of every label (None for labels without clips)."""
    y, pred = np.asarray(y), np.asarray(pred)
    return {name: (float((pred[y == c] == c).mean()) if (y == c).any() else None)
            for c, name in enumerate(labels)}


def _folder_scores(logits: List[np.ndarray], y: List[int], labels: Sequence[str]
                   ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The headline figures of some clips."""
    result = summarize(logits, y, len(labels))
    window_y = np.concatenate([np.full(len(w), t) for w, t in zip(logits, y)])
    window_p = np.concatenate([w.argmax(axis=1) for w in logits])
    return {"clip_accuracy": result["clip_accuracy"],
            "window_accuracy": result["window_accuracy"], "macro_f1": result["macro_f1"],
            "num_clips": result["num_clips"], "num_windows": result["num_windows"],
            "per_class_recall": class_recall(np.array(y), result["clip_pred"], labels),
            "false_emotion_rate": false_emotion_rate(np.array(y), result["clip_pred"], labels),
            "false_emotion_window_rate": false_emotion_rate(window_y, window_p, labels),
            "confusion": result["confusion"].tolist()}, result


def evaluate_folder(data_dir: DataRoots, model_dir: Optional[Path] = None,
                    stride_s: float = 0.5, cache_dir: Optional[Path] = None,
                    joint_map: Optional[Path] = None, baseline: str = "off",
                    baseline_config: Optional[BaselineConfig] = None) -> dict:
    """Score a trained model on every clip of one or several dataset-like folders; no training.

    A clip counts when its dataset's label table gives it an emotion among the model's labels
    (Dataset 2's `exhausted` counts as tired); expressive styles and files whose names follow
    no known dataset are skipped and counted, never guessed. `baseline` (`others`, `neutral`,
    `stream`; `emotion_node.evaluation.person_baseline`) also scores each clip whose person is
    known against that person's baseline, under `person_baseline` and clip by clip.
    """
    model, config = load_tokenizer(model_dir)
    roots = [str(d) for d in resolve_roots(data_dir)]
    found = scan_clips(data_dir, joint_map)
    kept = [c for c in found.clips if c.emotion in config.labels]
    if not kept:
        raise ValueError(f"no clip in {data_dir} has an emotion among the model labels "
                         f"{list(config.labels)} ({len(found.clips)} clips of other styles, "
                         f"{len(found.skipped)} files with unknown names)")
    records = load_records(kept, cache_dir=cache_dir)
    logits = clip_logits(model, records, config.preprocess, stride_s)
    y = [config.labels.index(c.emotion) for c in kept]
    scores, result = _folder_scores(logits, y, config.labels)
    per_dataset = {}
    for key in sorted({c.dataset for c in kept}):
        rows = [i for i, c in enumerate(kept) if c.dataset == key]
        part = [logits[i] for i in rows], [y[i] for i in rows]
        per_dataset[key] = _folder_scores(*part, config.labels)[0]
        spec = DATASETS[key]
        if spec.partial_labels:  # also among the labels its annotators could choose
            allowed = spec.own_labels(config.labels)
            per_dataset[key]["restricted"] = {
                "labels": allowed,
                **_folder_scores(*restrict_to(*part, config.labels, allowed), allowed)[0]}
    relative: Dict[str, Any] = {}
    if baseline != "off":
        relative = person_baseline_scores(kept, logits, y, config, baseline,
                                          baseline_config or BaselineConfig(), stride_s,
                                          result["clip_pred"])
    return {
        "model": str(Path(model_dir) if model_dir is not None else "models/default"),
        "data": roots[0] if len(roots) == 1 else roots,
        "labels": list(config.labels),
        **{k: v for k, v in scores.items() if k != "confusion"},
        "skipped": len(found.clips) - len(kept) + len(found.skipped),
        "skipped_other_styles": len(found.clips) - len(kept),
        "skipped_unknown_names": [str(p) for p in found.skipped],
        "window_stride_s": stride_s,
        "confusion": scores["confusion"],
        "per_dataset": per_dataset,
        "clips": [{"file": c.path.name, "dataset": c.dataset, "style": c.style,
                   "person": c.person, "label": c.emotion, "predicted": config.labels[int(p)],
                   "confidence": round(float(q), 4),
                   **({"acted": c.acted} if c.acted is not None else {}),
                   **({"predicted_relative": relative["clip_pred"][i]} if relative else {})}
                  for i, (c, p, q) in enumerate(zip(kept, result["clip_pred"],
                                                    result["clip_confidence"]))],
        **({"person_baseline": relative["summary"]} if relative else {}),
    }


def model_population(model_dir: Optional[Path], data_dir: DataRoots, stride_s: float = 0.5,
                     joint_map: Optional[Path] = None, record: bool = True,
                     exclude: Sequence[Path] = ()) -> np.ndarray:
    """The population mean log-probabilities (C,) of a model over the emotion clips of its
    data (less `exclude`: clips it must not know), each dataset alike
    (`person_baseline.population_mean`); `record`: also into the model's config.json
    (`training.population_log_probs`), where the node reads it."""
    model, config = load_tokenizer(model_dir)
    left_out = set(exclude)
    clips = [c for c in scan_clips(data_dir, joint_map).clips
             if c.emotion in config.labels and c.path not in left_out]
    if not clips:
        raise ValueError(f"no clip in {data_dir} has an emotion among the model labels")
    log_probs = pb.as_log_probs(clip_logits(model, load_records(clips), config.preprocess,
                                            stride_s))
    population = pb.fold_population(log_probs, [c.dataset for c in clips])
    if record:
        directory = Path(model_dir) if model_dir is not None else model_files.default_model_dir()
        data = model_files.read_config(directory)
        data.setdefault("training", {})[CONFIG_KEY] = population_to_config(population,
                                                                            config.labels)
        (directory / model_files.CONFIG_FILE).write_text(json.dumps(data, indent=2) + "\n",
                                                         encoding="utf-8")
    return population


def person_baseline_scores(kept: Sequence[Any], logits: List[np.ndarray], y: List[int],
                           config: Any, mode: str, cfg: BaselineConfig, stride_s: float,
                           absolute_pred: np.ndarray) -> Dict[str, Any]:
    """The person-relative reading of the clips with a baseline under `mode`, beside the
    absolute one on the same clips: scores, the paired test, and against the acted emotion
    where the source names one. `clip_pred`: every clip's relative label (absolute without a
    baseline)."""
    labels = list(config.labels)
    population = population_from_config(config.training, labels)
    log_probs = pb.as_log_probs(logits)
    source = "the model's config.json"
    if population is None:  # a model from before baselines: the clips' own population
        population = pb.fold_population(log_probs, [c.dataset for c in kept])
        source = "the scored clips (the model's config.json records none)"
    bases = pb.baselines(kept, log_probs, mode, cfg, stride_s)
    rows = [i for i, b in enumerate(bases) if b is not None]
    if not rows:
        raise ValueError(f"--baseline {mode}: no clip has a baseline; it needs clips whose "
                         f"person is known (Emotion-Gait's walkers, a person column in "
                         f"labels.csv) and, for {mode}, "
                         + {"others": "another clip of the same person",
                            "neutral": "a neutral clip of the same person",
                            "stream": f"{cfg.min_s:g} s of the person's clips before it"}[mode])
    rel = pb.relative_clip_log_probs(log_probs, bases, population, cfg)
    rel_pred = summarize(rel, y, len(labels))["clip_pred"]
    part = ([logits[i] for i in rows], [y[i] for i in rows])
    summary: Dict[str, Any] = {
        "mode": mode, "strength": cfg.strength, "max_shift": cfg.max_shift,
        **({"min_s": cfg.min_s, "tau_s": cfg.tau_s} if mode == "stream" else {}),
        "population": source, "clips_with_baseline": len(rows),
        "clips_without_baseline": len(kept) - len(rows),
        "absolute": _folder_scores(*part, labels)[0],
        "relative": _folder_scores([rel[i] for i in rows], part[1], labels)[0],
        "paired": pb.paired(part[1], absolute_pred[rows], rel_pred[rows]),
    }
    acted = [i for i in rows if kept[i].acted in labels]
    if acted:  # the emotion the person was asked to show, beside the perceived one
        truth = [labels.index(kept[i].acted) for i in acted]
        summary["acted"] = {
            "clips": len(acted),
            "absolute": _folder_scores([logits[i] for i in acted], truth, labels)[0],
            "relative": _folder_scores([rel[i] for i in acted], truth, labels)[0],
            "paired": pb.paired(truth, absolute_pred[acted], rel_pred[acted])}
    return {"summary": summary, "clip_pred": [labels[int(k)] for k in rel_pred]}
