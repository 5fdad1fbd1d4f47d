"""Score the LLM explainer on held-out actions: recognition, faithfulness, and a template baseline.

Four runs over the same windows (emotion styles of the held-out contents):
- `explain_label`: the node's request: explain the tokenizer head's label, with the cue hint;
- `recognise`: the LLM names the emotion itself (the EAI-LLM way), with the cue hint;
- `tokens_only`: the LLM names and explains from skeleton tokens alone (no hint);
- `template`: no LLM; the measured cues filled into the answer template (baseline).
Faithfulness = share of parsed movement claims that the window's measured cues support.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from tqdm import tqdm

from emotion_node.model.explanations import (
    check_explanation, parse_explanation, summarise_checks, template_explanation)
from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.skeleton.dataset import DataRoots

MODES = ("explain_label", "recognise", "tokens_only")


def _vote(labels: Sequence[Optional[str]]) -> Optional[str]:
    """Most common parsed label of a clip (unparsed answers do not vote)."""
    votes = Counter(label for label in labels if label is not None)
    return votes.most_common(1)[0][0] if votes else None


def _run_mode(explainer: Any, table: Any, rows: np.ndarray, zs: np.ndarray,
              head: list[str], mode: str, batch_size: int, progress: bool
              ) -> tuple[list[str], float, int]:
    """Generate every answer of one mode; return texts, seconds and new tokens."""
    texts, tokens_out, start = [], 0, time.perf_counter()
    for first in tqdm(range(0, len(rows), batch_size), desc=mode, disable=not progress):
        chunk = list(range(first, min(first + batch_size, len(rows))))
        prompts = []
        for k in chunk:
            if mode == "explain_label":
                prompts.append(explainer.make_prompt("explain", head[k], zs[k]))
            else:
                prompts.append(explainer.make_prompt(
                    "recognise", None, zs[k] if mode == "recognise" else None))
        out, counts = explainer.generate(table.tokens(rows[chunk]), prompts)
        texts += out
        tokens_out += sum(counts)
    return texts, time.perf_counter() - start, tokens_out


def _score(texts: list[str], judged: Optional[list[str]], zs: np.ndarray, truth: np.ndarray,
           clips: np.ndarray) -> tuple[dict[str, Any], list[Optional[str]]]:
    """Faithfulness summary and recognition accuracy of the emotion each answer names.

    `judged`: the label each answer must explain; None checks each answer against the label
    it states itself (recognition), or the true one where it states none.
    """
    stated = [parse_explanation(t).label for t in texts]
    judged = judged or [s if s in EMOTION_STYLES else t for s, t in zip(stated, truth)]
    out = summarise_checks([check_explanation(t, j, z) for t, j, z in zip(texts, judged, zs)])
    out["window_accuracy"] = float(np.mean([s == t for s, t in zip(stated, truth)]))
    by_clip = {c: _vote([stated[i] for i in np.where(clips == c)[0]]) for c in set(clips)}
    clip_truth = {c: truth[np.where(clips == c)[0][0]] for c in set(clips)}
    out["clip_accuracy"] = float(np.mean([by_clip[c] == clip_truth[c] for c in by_clip]))
    return out, stated


def evaluate_llm(explainer_dir: Optional[Path] = None, tokenizer_dir: Optional[Path] = None,
                 data_root: DataRoots = None, contents: Optional[Sequence[str]] = None,
                 llm: Optional[str] = None, max_windows: int = 0, batch_size: int = 8,
                 threads: int = 2, examples: int = 10, progress: bool = True,
                 whole_folder: bool = False, modes: Sequence[str] = MODES,
                 stride_s: float = 0.5) -> dict[str, Any]:
    """Evaluate on the emotion windows of `contents` (default: the explainer's held-out ones).

    `whole_folder`: every emotion-style window of `data_root`, whatever its action (for
    `emotion-node evaluate --llm` on a user's folder); `contents` is then ignored. `stride_s`:
    seconds between window ends.
    """
    import torch

    from emotion_node.model.explainer import Explainer
    from emotion_node.model.tokenizer import TokenizerConfig
    from emotion_node.training.window_table import build_window_table
    from emotion_node.model.model_files import (
        default_explainer_dir, default_model_dir, read_config)

    torch.set_num_threads(threads)
    tokenizer_dir = Path(tokenizer_dir) if tokenizer_dir is not None else default_model_dir()
    explainer = Explainer.load(explainer_dir or default_explainer_dir(tokenizer_dir), llm=llm,
                               tokenizer_dir=tokenizer_dir)
    held = explainer.config.training.get("holdout", [])
    if whole_folder:
        table = build_window_table(tokenizer_dir, data_root, stride_s, styles=EMOTION_STYLES,
                                   progress=progress, shared_only=False)
        contents = sorted(set(table.contents.tolist()))
    else:
        contents = list(contents) if contents else list(held)
        table = build_window_table(tokenizer_dir, data_root, stride_s, progress=progress)
    if not contents:
        raise ValueError("no contents to evaluate: pass contents (the explainer lists none)")
    unknown = sorted(set(contents) - set(table.contents.tolist()))
    if unknown:
        raise ValueError(f"contents {unknown} are not in the data")
    rows = np.where(np.isin(table.contents, contents) & np.isin(table.styles, EMOTION_STYLES))[0]
    if max_windows and len(rows) > max_windows:
        rows = rows[np.linspace(0, len(rows) - 1, max_windows).round().astype(int)]
    if not len(rows):
        raise ValueError(f"no window of an emotion style {list(EMOTION_STYLES)} to evaluate")
    labels = TokenizerConfig.from_dict(read_config(tokenizer_dir)).labels
    report = _report(explainer, table.subset(rows), labels, batch_size, examples, progress,
                     modes)
    report.update(contents=contents, trained_on_these=sorted(set(contents) - set(held)))
    return report


def _report(explainer: Any, table: Any, labels: Sequence[str], batch_size: int,
            examples: int, progress: bool, modes: Sequence[str] = MODES) -> dict[str, Any]:
    """Run `modes` (the node's `explain_label` and `recognise` at least) over all rows of
    `table` and gather the scores."""
    missing = {"explain_label", "recognise"} - set(modes)
    if missing or not set(modes) <= set(MODES):
        raise ValueError(f"modes must include explain_label and recognise, within {MODES}")
    rows = np.arange(len(table))
    head = [labels[i] for i in table.probs.argmax(-1)]
    truth, clips = table.styles, table.clip
    zs = np.stack([explainer.zscores(table.cues[r], str(table.contents[r])) for r in rows])
    report: dict[str, Any] = {"windows": len(rows), "clips": len(set(clips)), "modes": {}}
    texts, stated = {}, {}
    for mode in modes:
        texts[mode], seconds, n_tokens = _run_mode(explainer, table, rows, zs, head, mode,
                                                   batch_size, progress)
        scored, stated[mode] = _score(texts[mode], head if mode == "explain_label" else None,
                                      zs, truth, clips)
        scored.update(seconds=round(seconds, 1), s_per_explanation=round(seconds / len(rows), 3),
                      tokens_per_s=round(n_tokens / seconds, 1))
        report["modes"][mode] = scored
    template = [template_explanation(h, z) for h, z in zip(head, zs)]
    report["modes"]["template"] = _score(template, head, zs, truth, clips)[0]
    # How often the LLM's answer to the node's request is word for word the template's.
    report["modes"]["explain_label"]["same_as_template"] = float(
        np.mean([a == b for a, b in zip(texts["explain_label"], template)]))
    mean_probs = {c: table.probs[clips == c].mean(0) for c in set(clips)}
    report.update(
        llm_window_accuracy=report["modes"]["recognise"]["window_accuracy"],
        llm_clip_accuracy=report["modes"]["recognise"]["clip_accuracy"],
        head_window_accuracy=float(np.mean(np.array(head) == truth)),
        head_clip_accuracy=float(np.mean([labels[int(p.argmax())] == truth[clips == c][0]
                                          for c, p in mean_probs.items()])),
        agreement=float(np.mean([s == h for s, h in zip(stated["recognise"], head)])),
        faithfulness=report["modes"]["explain_label"]["faithfulness"],
        examples=_examples(rows, table, head, texts["explain_label"], zs, examples))
    return report


def _examples(rows: np.ndarray, table: Any, head: list[str], texts: list[str], zs: np.ndarray,
              count: int) -> list[dict[str, Any]]:
    """`count` explained windows spread evenly over the evaluated ones."""
    picks = np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(int)
    out = []
    for k in picks:
        check = check_explanation(texts[k], head[k], zs[k])
        out.append({"content": str(table.contents[rows[k]]), "style": str(table.styles[rows[k]]),
                    "label": head[k], "explanation": texts[k],
                    "claims": check.claims, "supported": check.held})
    return out
