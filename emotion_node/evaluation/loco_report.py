"""Markdown tables of a leave-one-content-out study (the figures EVALUATION.md quotes)."""
from __future__ import annotations

from typing import Dict, List

VARIANT_NAMES: Dict[str, str] = {
    "tokenizer": "skeleton tokenizer (text-aligned pre-training)",
    "no_alignment": "same, without alignment pre-training",
    "baseline": "kinematic features + logistic regression",
}


def _pct(value: float) -> str:
    """Percent with one decimal."""
    return f"{100 * value:.1f}"


def _ci(pair) -> str:
    """A percent interval."""
    return f"[{_pct(pair[0])}, {_pct(pair[1])}]"


def overall_table(results: dict) -> List[str]:
    """One row per model variant."""
    rows = ["| model | clip acc % [95% CI] | window acc % | clip macro-F1 | fold std (clip) "
            "| window ECE raw -> scaled |",
            "| --- | --- | --- | --- | --- | --- |"]
    for key, name in VARIANT_NAMES.items():
        r = results["variants"].get(key)
        if r is None:
            continue
        cal = r["calibration"]
        rows.append(f"| {name} | {_pct(r['clip_accuracy'])} {_ci(r['clip_ci95'])} | "
                    f"{_pct(r['window_accuracy'])} | {r['macro_f1']:.3f} | "
                    f"{_pct(r['fold_clip_accuracy_std'])} | "
                    f"{cal['window_ece']:.3f} -> {cal['window_ece_scaled']:.3f} |")
    return rows


def per_content_table(results: dict) -> List[str]:
    """Clip (and window) accuracy of each held-out action for every variant."""
    present = [k for k in VARIANT_NAMES if k in results["variants"]]
    head = "| held-out action | clips | " + " | ".join(
        f"{k} clip % [95% CI] / window %" for k in present) + " |"
    rows = [head, "| --- | --- |" + " --- |" * len(present)]
    for content in results["folds"]:
        cells = []
        for key in present:
            c = results["variants"][key]["per_content"][content]
            cells.append(f"{_pct(c['clip_accuracy'])} {_ci(c['clip_ci95'])} / "
                         f"{_pct(c['window_accuracy'])}")
        clips = results["variants"][present[0]]["per_content"][content]["clips"]
        rows.append(f"| {content} | {clips} | " + " | ".join(cells) + " |")
    return rows


def layout_table(results: dict) -> List[str]:
    """Accuracy of the tokenizer when the test data only has another tracker's joints."""
    base = results["variants"].get("tokenizer")
    layouts = [k for k in results["variants"] if k.startswith("layout:")]
    if base is None or not layouts:
        return []
    rows = ["| test joints | clip acc % | window acc % | clip drop (points) | window drop |",
            "| --- | --- | --- | --- | --- |",
            f"| all 21 (mocap) | {_pct(base['clip_accuracy'])} | "
            f"{_pct(base['window_accuracy'])} | - | - |"]
    for key in layouts:
        r = results["variants"][key]
        rows.append(f"| {key.split(':', 1)[1]} subset | {_pct(r['clip_accuracy'])} | "
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
    """All tables of a study as one markdown fragment."""
    parts = ["### Overall (leave-one-content-out, all folds pooled)", "",
             *overall_table(results), "", "### Per held-out action", "",
             *per_content_table(results), ""]
    layouts = layout_table(results)
    if layouts:
        parts += ["### Cross-layout robustness (tokenizer, test joints masked)", "", *layouts,
                  ""]
    cal = calibration_lines(results)
    if cal:
        parts += ["### Calibration (tokenizer)", "", *cal, ""]
    return "\n".join(parts)
