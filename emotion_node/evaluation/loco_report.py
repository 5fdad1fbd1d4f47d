"""Markdown tables of a leave-one-content-out study (the figures EVALUATION.md quotes)."""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

VARIANT_NAMES: Dict[str, str] = {
    "tokenizer": "skeleton tokenizer (text-aligned pre-training)",
    "no_alignment": "same, without alignment pre-training",
    "baseline": "kinematic features + logistic regression",
}


def _pct(value: Optional[float]) -> str:
    """Percent with one decimal ('-' when undefined)."""
    return "-" if value is None else f"{100 * value:.1f}"


def _ci(pair) -> str:
    """A percent interval."""
    return f"[{_pct(pair[0])}, {_pct(pair[1])}]"


def mcnemar(a: List[bool], b: List[bool]) -> Tuple[int, int, float]:
    """Exact two-sided McNemar test on paired outcomes: (a right b wrong, a wrong b right, p)."""
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    n = only_a + only_b
    if n == 0:
        return 0, 0, 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return only_a, only_b, min(1.0, 2 * tail)


def _correct(results: dict, variant: str, dataset: Optional[str],
             restricted: bool = False) -> Dict[str, bool]:
    """file -> whether the variant's clip prediction is right (one dataset, or all);
    `restricted`: the prediction among the clip's dataset's own labels (where it has one)."""
    key = "predicted_restricted" if restricted else "predicted"
    return {p["file"]: p["label"] == p[key]
            for p in results["variants"][variant]["predictions"]
            if (dataset is None or p["dataset"] == dataset) and key in p}


def compare_studies(a: dict, b: dict, names: Tuple[str, str] = ("A", "B"),
                    variant: str = "tokenizer") -> List[str]:
    """Two studies' tokenizers on the clips both held out, per dataset: accuracy of each and
    the exact McNemar test of the paired clip outcomes (for "recipe A beats recipe B")."""
    rows = [f"| dataset | clips both held out | {names[0]} clip % | {names[1]} clip % | "
            f"{names[0]} right, {names[1]} wrong | {names[1]} right, {names[0]} wrong | "
            "McNemar p |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    datasets = sorted({p["dataset"] for p in a["variants"][variant]["predictions"]})
    for dataset, restricted in [(d, r) for d in datasets for r in (False, True)]:
        right_a = _correct(a, variant, dataset, restricted)
        right_b = _correct(b, variant, dataset, restricted)
        files = sorted(set(right_a) & set(right_b))
        if not files:
            continue
        x, y = [right_a[f] for f in files], [right_b[f] for f in files]
        only_a, only_b, p = mcnemar(x, y)
        name = f"{dataset} (among its own labels)" if restricted else dataset
        rows.append(f"| {name} | {len(files)} | {_pct(sum(x) / len(files))} | "
                    f"{_pct(sum(y) / len(files))} | {only_a} | {only_b} | {p:.3f} |")
    return rows


def _scope(results: dict, key: str, dataset: Optional[str],
           restricted: bool = False) -> Optional[dict]:
    """A variant's metrics pooled over all folds, or over one dataset's clips (`restricted`:
    among that dataset's own labels; None where it has no such scores)."""
    r = results["variants"].get(key)
    if r is None or dataset is None:
        return r
    r = r.get("per_dataset", {}).get(dataset)
    return r.get("restricted") if restricted and r is not None else r


def overall_table(results: dict, dataset: Optional[str] = None,
                  restricted: bool = False) -> List[str]:
    """One row per model variant: accuracy, macro-F1, false-emotion rate, paired test."""
    rows = ["| model | clips | clip acc % [95% CI] | window acc % | clip macro-F1 | "
            "false-emotion % (clip / window) | vs baseline (McNemar) |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    base = (_correct(results, "baseline", dataset, restricted)
            if "baseline" in results["variants"] else None)
    for key, name in VARIANT_NAMES.items():
        r = _scope(results, key, dataset, restricted)
        if r is None:
            continue
        paired = "-"
        if base is not None and key != "baseline":
            mine = _correct(results, key, dataset, restricted)
            files = sorted(mine)
            a, b, p = mcnemar([mine[f] for f in files], [base[f] for f in files])
            paired = f"{a} vs {b} clips, p = {p:.3f}"
        rows.append(f"| {name} | {r['num_clips']} | {_pct(r['clip_accuracy'])} "
                    f"{_ci(r['clip_ci95'])} | {_pct(r['window_accuracy'])} | "
                    f"{r['macro_f1']:.3f} | {_pct(r.get('false_emotion_rate'))} / "
                    f"{_pct(r.get('false_emotion_window_rate'))} | {paired} |")
    return rows


def recall_table(results: dict, dataset: Optional[str] = None,
                 restricted: bool = False) -> List[str]:
    """Per-class clip recall of every variant."""
    labels = results["labels"]
    scopes = {k: s for k in VARIANT_NAMES
              if (s := _scope(results, k, dataset, restricted)) is not None}
    used = [name for name in labels
            if any(s["per_class_recall"].get(name) is not None for s in scopes.values())]
    rows = ["| model | " + " | ".join(used) + " |", "| --- |" + " --- |" * len(used)]
    for key, scope in scopes.items():
        recall = scope["per_class_recall"]
        rows.append(f"| {key} | " + " | ".join(_pct(recall[name]) for name in used) + " |")
    return rows


def per_content_table(results: dict, dataset: Optional[str] = None) -> List[str]:
    """Clip (and window) accuracy of each held-out fold (action, family or walkers)."""
    present = [k for k in VARIANT_NAMES if k in results["variants"]]
    head = "| held-out fold | clips | " + " | ".join(
        f"{k} clip % [95% CI] / window %" for k in present) + " |"
    rows = [head, "| --- | --- |" + " --- |" * len(present)]
    first = results["variants"][present[0]]["per_content"]
    for fold_key, entry in first.items():
        if dataset is not None and entry["dataset"] != dataset:
            continue
        cells = []
        for key in present:
            c = results["variants"][key]["per_content"][fold_key]
            cells.append(f"{_pct(c['clip_accuracy'])} {_ci(c['clip_ci95'])} / "
                         f"{_pct(c['window_accuracy'])}")
        name = entry["content"] if dataset is not None else fold_key
        rows.append(f"| {name} | {entry['clips']} | " + " | ".join(cells) + " |")
    return rows


def layout_table(results: dict, prefix: str = "layout:",
                 dataset: Optional[str] = None) -> List[str]:
    """Accuracy of the tokenizer when the test data is damaged or has another tracker's joints."""
    base = _scope(results, "tokenizer", dataset)
    keys = [k for k in results["variants"] if k.startswith(prefix)]
    if base is None or not keys:
        return []
    rows = ["| test input | clip acc % | window acc % | clip drop (points) | window drop |",
            "| --- | --- | --- | --- | --- |",
            f"| clean, all 21 joints | {_pct(base['clip_accuracy'])} | "
            f"{_pct(base['window_accuracy'])} | - | - |"]
    for key in keys:
        r = _scope(results, key, dataset)
        if r is None:
            continue
        rows.append(f"| {key.split(':', 1)[1]} | {_pct(r['clip_accuracy'])} | "
                    f"{_pct(r['window_accuracy'])} | "
                    f"{_pct(base['clip_accuracy'] - r['clip_accuracy'])} | "
                    f"{_pct(base['window_accuracy'] - r['window_accuracy'])} |")
    return rows


def calibration_lines(results: dict) -> List[str]:
    """ECE figures and fitted temperatures of the tokenizer."""
    r = results["variants"].get("tokenizer")
    if r is None:
        return []
    cal = r["calibration"]
    return [f"- window-level ECE (15 bins): {cal['window_ece']:.3f} raw, "
            f"{cal['window_ece_scaled']:.3f} after temperature scaling",
            f"- clip-level ECE (mean of window probabilities): {cal['clip_ece']:.3f} raw, "
            f"{cal['clip_ece_scaled']:.3f} after scaling",
            f"- per-fold temperatures (each fitted on the other folds' held-out windows): "
            f"{', '.join(str(t) for t in cal['temperatures'])}"]


def summary_markdown(results: dict) -> str:
    """All tables of a study as one markdown fragment, pooled and per dataset."""
    datasets = results.get("datasets") or [None]
    parts: List[str] = []
    for dataset in datasets:
        title = dataset or "all folds"
        parts += [f"### {title}: held-out folds pooled", "",
                  *overall_table(results, dataset), "", f"Per-class clip recall ({title}):", "",
                  *recall_table(results, dataset), ""]
        if _scope(results, "tokenizer", dataset, restricted=True) is not None:
            parts += [f"### {title}: among its own labels only", "",
                      *overall_table(results, dataset, restricted=True), "",
                      f"Per-class clip recall ({title}, among its own labels):", "",
                      *recall_table(results, dataset, restricted=True), ""]
        parts += [f"### {title}: per held-out fold", "", *per_content_table(results, dataset),
                  ""]
        for prefix, what in (("layout:", "other trackers' joints"),
                             ("damage:", "tracker damage")):
            rows = layout_table(results, prefix, dataset)
            if rows:
                parts += [f"### {title}: {what} (tokenizer, same weights)", "", *rows, ""]
    cal = calibration_lines(results)
    if cal:
        parts += ["### Calibration (tokenizer, all folds)", "", *cal, ""]
    return "\n".join(parts)
