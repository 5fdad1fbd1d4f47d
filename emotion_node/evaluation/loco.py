"""The held-out study: tokenizer (with and without text alignment) vs a baseline.

Every fold holds out one group of clips and nothing of it (no clip of any style, no cue
statistic, no text) is seen in training. A dataset whose clips name their people (Emotion-Gait)
is split by person: its people (or, where unknown, whole source libraries) are dealt into
`PERSON_FOLDS` folds, so no walker is on both sides. Other datasets hold out one action (by
name, in every dataset: Dataset 1's walk and Dataset 2's walk are one fold), or one action
family (`fold_by="family"`: walk, walk-left and walk-turn-right together), among those where a
dataset has all its emotion styles. Results are pooled per dataset. Calibration temperatures of
a fold are fitted on the held-out predictions of the other folds only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from emotion_node.evaluation import evaluate as ev
from emotion_node.evaluation.baseline import LogisticRegression, baseline_features
from emotion_node.training.data import (
    ClipRecord, WindowPool, build_pool, load_records, raw_eval_windows)
from emotion_node.training.train_tokenizer import (
    TrainConfig, action_family, clip_cues, train_tokenizer)
from emotion_node.skeleton.damage import DAMAGE_KINDS, damage_kind
from emotion_node.skeleton.dataset import DATASETS, DataRoots, emotion_contents, index_clips
from emotion_node.skeleton.layouts import layout_presence
from emotion_node.skeleton.preprocess import PreprocessConfig, preprocess_batch

CROSS_LAYOUTS = ("k4abt", "zed_body18", "kinect_v2")
PERSON_FOLDS = 5
FOLD_BY = ("action", "family")
PERSON_SPLITS = ("walkers", "random")  # random: the peers' protocol, gaits of one walker apart
# Every held-out window's logits, one array per (variant, held-out action, clip) under this key.
WINDOW_LOGITS_FILE = "window_logits.npz"


def window_logits_key(variant: str, held: str, clip_stem: str) -> str:
    """The key of one clip's saved window logits in WINDOW_LOGITS_FILE."""
    return f"{variant}|{held}|{clip_stem}"


def parse_window_logits_key(key: str) -> Tuple[str, str, str]:
    """(variant, held-out action, clip stem) of a WINDOW_LOGITS_FILE key."""
    variant, held, clip_stem = key.split("|")
    return variant, held, clip_stem


@dataclass
class StudyData:
    """Every clip in memory, its cues, and which clips take part in emotion folds."""

    records: List[ClipRecord]
    cues: List[tuple]
    contents: List[str]    # the folds: actions (or families, or person folds) with emotion tests
    labels: tuple
    pool: WindowPool       # pre-cut training windows of every clip, shared by all folds
    emotion_contents: Dict[str, List[str]] = field(default_factory=dict)  # per dataset
    features: Dict[int, np.ndarray] = field(default_factory=dict)  # baseline, per record
    fold_of: List[str] = field(default_factory=list)  # per record, the fold it is held out in

    def label(self, i: int) -> int:
        """Emotion class of an emotion-labelled record."""
        return self.labels.index(self.records[i].info.emotion)

    def datasets(self) -> List[str]:
        """Datasets with emotion folds, sorted."""
        return sorted(self.emotion_contents)


def person_folds(infos: Sequence, split: str = "walkers", folds: int = PERSON_FOLDS,
                 seed: int = 0) -> List[Optional[str]]:
    """Per clip, its person fold ('<dataset>:walkers-k'), or None for a clip without people.

    "walkers": each person group (`ClipInfo.person_key`) goes whole to the fold with the fewest
    clips so far, largest groups first. "random": clips are dealt at random (the peers'
    protocol; one walker's gaits land on both sides)."""
    if split not in PERSON_SPLITS:
        raise ValueError(f"person split must be one of {PERSON_SPLITS}, got {split!r}")
    keys = [info.person_key for info in infos]
    out: List[Optional[str]] = [None] * len(keys)
    rows = [n for n, k in enumerate(keys) if k is not None]
    if split == "random":
        order = np.random.default_rng(seed).permutation(len(rows))
        for rank, n in enumerate(order):
            out[rows[n]] = f"{infos[rows[n]].dataset}:random-{rank % folds + 1}"
        return out
    groups: Dict[str, List[int]] = {}
    for n in rows:
        groups.setdefault(str(keys[n]), []).append(n)
    sizes: Dict[str, List[int]] = {}  # dataset -> clips per fold so far
    for _, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        dataset = infos[members[0]].dataset
        load = sizes.setdefault(dataset, [0] * folds)
        k = int(np.argmin(load))
        load[k] += len(members)
        for n in members:
            out[n] = f"{dataset}:walkers-{k + 1}"
    return out


def fold_keys(infos: Sequence, fold_by: str = "action", person_split: str = "walkers",
              seed: int = 0) -> List[str]:
    """Per clip, the fold that holds it out: its person fold, else its action (or family)."""
    if fold_by not in FOLD_BY:
        raise ValueError(f"fold_by must be one of {FOLD_BY}, got {fold_by!r}")
    people = person_folds(infos, person_split, seed=seed)
    return [person if person is not None else
            (action_family(info.content) if fold_by == "family" else info.content)
            for info, person in zip(infos, people)]


def load_study(data_root: DataRoots, cfg: TrainConfig, fold_by: str = "action",
               person_split: str = "walkers") -> StudyData:
    """Load all clips of the datasets and compute their cue windows once."""
    clips = index_clips(data_root)
    labels = cfg.tokenizer.labels
    per_dataset = emotion_contents(clips)
    fold_of = fold_keys(clips, fold_by, person_split)
    folds = sorted({fold for info, fold in zip(clips, fold_of)
                    if info.content in per_dataset.get(info.dataset, ())})
    records = load_records(clips)
    cues = clip_cues(records, cfg.tokenizer.preprocess, cfg.cue_stride_s)
    pool = build_pool(records, cfg.tokenizer.preprocess, cfg.augment, cfg.pool_per_clip,
                      cfg.seed)
    return StudyData(records, cues, folds, labels, pool, per_dataset, fold_of=fold_of)


def _emotion(study: StudyData, records: Sequence[int]) -> List[int]:
    """Indices of emotion-labelled clips of their dataset's emotion actions."""
    out = []
    for i in records:
        info = study.records[i].info
        if info.emotion in study.labels and \
                info.content in study.emotion_contents.get(info.dataset, ()):
            out.append(i)
    return out


def fold_indices(study: StudyData, held: str) -> Dict[str, List[int]]:
    """Record indices of one fold: fine-tuning, pre-training (any style/action) and test."""
    train = [i for i, fold in enumerate(study.fold_of) if fold != held]
    test = [i for i, fold in enumerate(study.fold_of) if fold == held]
    return {"finetune": _emotion(study, train), "pretrain": train, "test": _emotion(study, test)}


def _baseline_logits(study: StudyData, train: List[int], test: List[int],
                     config: PreprocessConfig) -> List[np.ndarray]:
    """Fit the feature baseline on training windows; per-clip logits of the test clips."""
    def feats(i: int) -> np.ndarray:
        if i not in study.features:
            raw, raw_mask, _ = raw_eval_windows(study.records[i], config)
            x, mask = preprocess_batch(raw, raw_mask, config)
            study.features[i] = baseline_features(x, mask, raw, raw_mask, config.fps)
        return study.features[i]

    train_feats = [feats(i) for i in train]
    y = np.concatenate([np.full(len(f), study.label(i)) for f, i in zip(train_feats, train)])
    counts = np.bincount(y, minlength=len(study.labels))
    clf = LogisticRegression().fit(np.concatenate(train_feats), y, len(study.labels),
                                   sample_weight=1.0 / counts[y])  # balanced classes
    return [clf.logits(feats(i)) for i in test]


def run_fold(study: StudyData, held: str, cfg: TrainConfig, ablation: bool, baseline: bool,
             layouts: Sequence[str], progress: bool,
             damages: Sequence[str] = ()) -> Dict[str, List[np.ndarray]]:
    """Train and score one fold; return per-variant lists of per-test-clip window logits."""
    idx = fold_indices(study, held)
    test = [study.records[i] for i in idx["test"]]
    config = cfg.tokenizer.preprocess
    out: Dict[str, List[np.ndarray]] = {}
    variants = [("tokenizer", cfg.align)] + ([("no_alignment", False)] if ablation else [])
    for name, align in variants:
        run_cfg = TrainConfig(**{**cfg.__dict__, "align": align})
        model, _ = train_tokenizer(study.records, idx["finetune"], idx["pretrain"], run_cfg,
                                   cues=study.cues, pool=study.pool, progress=progress)
        out[name] = ev.clip_logits(model, test, config)
        if name == "tokenizer":
            for layout in layouts:
                out[f"layout:{layout}"] = ev.clip_logits(model, test, config,
                                                         presence=layout_presence(layout))
            for kind in damages:
                out[f"damage:{kind}"] = ev.clip_logits(model, test, config,
                                                       damage=damage_kind(kind))
    if baseline:
        out["baseline"] = _baseline_logits(study, idx["finetune"], idx["test"], config)
    return out


def _calibration(fold_logits: List[List[np.ndarray]], fold_labels: List[List[int]]) -> dict:
    """ECE before/after temperature scaling, each fold's temperature fitted on the others."""
    raw_p, cal_p, ys, clip_raw, clip_cal, clip_y, temps = [], [], [], [], [], [], []
    for k in range(len(fold_logits)):
        others = [j for j in range(len(fold_logits)) if j != k]
        t = 1.0  # a single fold has no other folds to fit its temperature on
        if others:
            fit_x = np.concatenate([w for j in others for w in fold_logits[j]])
            fit_y = np.concatenate([np.full(len(w), y) for j in others
                                    for w, y in zip(fold_logits[j], fold_labels[j])])
            t = ev.fit_temperature(fit_x, fit_y)
        temps.append(t)
        for w, y in zip(fold_logits[k], fold_labels[k]):
            raw_p.append(ev.softmax(w))
            cal_p.append(ev.softmax(w, t))
            ys.append(np.full(len(w), y))
            clip_raw.append(ev.clip_vote(w))
            clip_cal.append(ev.clip_vote(w, t))
            clip_y.append(y)
    window_y = np.concatenate(ys)
    return {"window_ece": ev.expected_calibration_error(np.concatenate(raw_p), window_y),
            "window_ece_scaled": ev.expected_calibration_error(np.concatenate(cal_p), window_y),
            "clip_ece": ev.expected_calibration_error(np.stack(clip_raw), np.array(clip_y)),
            "clip_ece_scaled": ev.expected_calibration_error(np.stack(clip_cal),
                                                             np.array(clip_y)),
            "temperatures": [round(t, 3) for t in temps]}


NEUTRAL = "normal"


def _scores(logits: List[np.ndarray], labels: List[int], names: Sequence[str]
            ) -> Tuple[Dict[str, Any], np.ndarray]:
    """Accuracy, macro-F1, per-class recall and the false-emotion rate of some clips."""
    total = ev.summarize(logits, labels, len(names))
    y = np.array(labels)
    recall = {name: (float((total["clip_pred"][y == c] == c).mean()) if (y == c).any() else None)
              for c, name in enumerate(names)}
    out = {"clip_accuracy": total["clip_accuracy"], "window_accuracy": total["window_accuracy"],
           "macro_f1": total["macro_f1"], "window_macro_f1": total["window_macro_f1"],
           "clip_ci95": ev.bootstrap_ci(total["clip_pred"] == y),
           "num_clips": total["num_clips"], "num_windows": total["num_windows"],
           "per_class_recall": recall, "confusion": total["confusion"].tolist()}
    if NEUTRAL in names:  # neutral people called emotional: the error a robot shows most
        k = list(names).index(NEUTRAL)
        neutral = y == k
        windows = [w.argmax(axis=1) for w, t in zip(logits, labels) if t == k]
        out["false_emotion_rate"] = (float((total["clip_pred"][neutral] != k).mean())
                                     if neutral.any() else None)
        out["false_emotion_window_rate"] = (float((np.concatenate(windows) != k).mean())
                                            if windows else None)
    return out, total["clip_pred"]


def aggregate(study: StudyData, folds: List[str], tests: List[List[int]],
              outputs: List[Dict[str, List[np.ndarray]]], variant: str) -> dict:
    """Metrics of one variant over all folds (`tests`: each fold's test records), pooled, per
    dataset and per action, with uncertainty and calibration."""
    fold_logits = [o[variant] for o in outputs]
    fold_labels = [[study.label(i) for i in test] for test in tests]
    logits = [w for f in fold_logits for w in f]
    labels = [y for f in fold_labels for y in f]
    flat = [(held, i) for held, test in zip(folds, tests) for i in test]
    pooled, clip_pred = _scores(logits, labels, study.labels)
    per_dataset = {}
    for key in study.datasets():
        rows = [n for n, (_, i) in enumerate(flat) if study.records[i].info.dataset == key]
        if rows:
            part = [logits[n] for n in rows], [labels[n] for n in rows]
            per_dataset[key], _ = _scores(*part, study.labels)
            per_dataset[key]["folds"] = sorted({flat[n][0] for n in rows})
            if DATASETS[key].partial_labels:  # among the labels its annotators could choose
                allowed = DATASETS[key].own_labels(study.labels)
                restricted, _ = _scores(*ev.restrict_to(*part, study.labels, allowed), allowed)
                per_dataset[key]["restricted"] = {"labels": allowed, **restricted}
    per_content = {}
    for held, f_logits, f_labels, test in zip(folds, fold_logits, fold_labels, tests):
        for key in study.datasets():
            rows = [n for n, i in enumerate(test) if study.records[i].info.dataset == key]
            if not rows:
                continue
            s = ev.summarize([f_logits[n] for n in rows], [f_labels[n] for n in rows],
                             len(study.labels))
            correct = s["clip_pred"] == np.array([f_labels[n] for n in rows])
            per_content[f"{key}:{held}"] = {
                "dataset": key, "content": held, "clip_accuracy": s["clip_accuracy"],
                "clip_ci95": ev.bootstrap_ci(correct), "window_accuracy": s["window_accuracy"],
                "clips": s["num_clips"], "windows": s["num_windows"]}
    fold_acc = [v["clip_accuracy"] for v in per_content.values()]
    return {
        **pooled, "fold_clip_accuracy_std": float(np.std(fold_acc)),
        "per_dataset": per_dataset, "per_content": per_content,
        "calibration": _calibration(fold_logits, fold_labels),
        "predictions": [
            {"file": study.records[i].info.path.name, "dataset": study.records[i].info.dataset,
             "content": held, "person": study.records[i].info.person_key,
             "style": study.records[i].info.style,
             "label": study.records[i].info.emotion, "predicted": study.labels[int(p)],
             **_restricted_prediction(study, i, w)}
            for (held, i), p, w in zip(flat, clip_pred, logits)],
    }


def _restricted_prediction(study: StudyData, i: int, window_logits: np.ndarray) -> dict:
    """{'predicted_restricted': label} among a partial-label dataset's own labels, else {}."""
    spec = DATASETS[study.records[i].info.dataset]
    if not spec.partial_labels:
        return {}
    allowed = spec.own_labels(study.labels)
    vote = ev.clip_vote(window_logits[:, [study.labels.index(a) for a in allowed]])
    return {"predicted_restricted": allowed[int(vote.argmax())]}


def run_loco(data_root: DataRoots, cfg: TrainConfig, out_dir: Path, ablation: bool = True,
             baseline: bool = True, layouts: Sequence[str] = CROSS_LAYOUTS,
             held_out: Optional[Sequence[str]] = None, progress: bool = True,
             damages: Sequence[str] = tuple(DAMAGE_KINDS), fold_by: str = "action",
             person_split: str = "walkers") -> dict:
    """Run every fold (or only `held_out` ones), write results.json and confusion PNGs."""
    study = load_study(data_root, cfg, fold_by, person_split)
    bad = sorted(set(held_out or ()) - set(study.contents))
    if bad:
        raise ValueError(f"folds {bad} are not fold actions (actions where a dataset has "
                         f"every emotion style) or person folds: {study.contents}")
    # The split itself is fold_indices'; here only which actions to hold out, in order.
    folds = [held for held in study.contents if not held_out or held in held_out]
    outputs = []
    for n, held in enumerate(folds, 1):
        print(f"fold {n}/{len(folds)}: holding out {held!r}", flush=True)
        outputs.append(run_fold(study, held, cfg, ablation, baseline, layouts, progress,
                                damages))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: Dict[str, Any] = {"folds": folds, "labels": list(study.labels),
                               "fold_by": fold_by, "person_split": person_split,
                               "datasets": study.datasets(),
                               "emotion_contents": study.emotion_contents,
                               "train_config": cfg.to_dict(),
               "tokenizer_config": cfg.tokenizer.to_dict(), "variants": {}}
    tests = [fold_indices(study, held)["test"] for held in folds]
    for variant in outputs[0]:
        res = aggregate(study, folds, tests, outputs, variant)
        results["variants"][variant] = res
        if ":" not in variant:
            ev.save_confusion_png(np.array(res["confusion"]), study.labels,
                                  out_dir / f"confusion_{variant}.png",
                                  f"{variant}: leave-one-content-out, clip level")
            for key, part in res["per_dataset"].items():
                ev.save_confusion_png(np.array(part["confusion"]), study.labels,
                                      out_dir / f"confusion_{variant}_{key}.png",
                                      f"{variant}, {key}: leave-one-content-out, clip level")
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    # Every held-out window's logits, for re-analysis without retraining.
    np.savez_compressed(out_dir / WINDOW_LOGITS_FILE, allow_pickle=False, **{
        window_logits_key(variant, held, study.records[i].info.path.stem): logits
        for output, held, test in zip(outputs, folds, tests)
        for variant, per_clip in output.items() for i, logits in zip(test, per_clip)})
    return results
