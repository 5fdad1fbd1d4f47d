"""Score the LLM explainer on held-out actions: recognition, faithfulness, coherence, variety.

Runs over the same windows (emotion-labelled windows of the held-out actions of every dataset):
- `explain_label`: the node's request (`answers.answer_batch`): the explainer reads the window,
  then explains the tokenizer head's label with the cue hint, naming its own reading when it
  differs; answers sampled at the explainer's temperature, a rejected one replaced by greedy
  and a rejected greedy one by the composer's (`sources` counts each; `llm_alone` scores the
  LLM's own last answers, before the composer);
- `recognise`: the LLM names the emotion itself and explains it (the EAI-LLM way), with the
  cue hint, greedy;
- `tokens_only`: the same from skeleton tokens alone (no hint);
- `template`: no LLM; the measured cues in the first answer template's fixed phrases;
- `coherent_template`: no LLM; the composer's first choice everywhere (coherent, not varied);
- `composer`: no LLM; what the composer alone would publish (its words drawn per window).
Explanations are decoded as the explainer is configured (`decoding`: under each window's
grammar, or free); `llm_written_share` is the share of published answers the LLM wrote (sampled
or greedy, not the composer), `llm_own_faithfulness` the share of claims that hold in the LLM's
own last answers before the composer, and `label_from_text` how often each kind of answer gives
its label back from its text alone, label words removed (`label_evidence`): the LLM's against
the composer's window by window (`label_from_text_paired`), and the composer's over twenty
draws of its words (`label_from_text_composer_draws`), since one draw is one random sample.
`reading` alone (`modes=("reading",)`) scores only the explainer's reading against the head, a
prompt read per window instead of generations: minutes instead of half an hour, for comparing
recipes over seeds.
Faithfulness = share of parsed movement claims that the window's measured cues support; a silent
clash is a claim against the label's movement signature not marked as contrary, or a general
statement that does not fit what was measured (`explanations.check_explanation`).
"""
from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from tqdm import tqdm

from emotion_node.evaluation.label_evidence import paired_recovery, recovered_hits
from emotion_node.model.answers import SOURCES, answer_batch, reading_probs
from emotion_node.model.explanations import (
    check_explanation, parse_explanation, summarise_checks, template_explanation)
from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.wording import (
    coherent_template, compose_answer, salient_claims, split_by_label)
from emotion_node.skeleton.dataset import DataRoots

MODES = ("explain_label", "recognise", "tokens_only")
READING_ONLY = ("reading",)
COMPOSER_DRAWS = 20  # draws of the composer's words the label read-back is averaged over


def _vote(labels: Sequence[Optional[str]]) -> Optional[str]:
    """Most common parsed label of a clip (unparsed answers do not vote)."""
    votes = Counter(label for label in labels if label is not None)
    return votes.most_common(1)[0][0] if votes else None


def distinct_2(texts: Sequence[str]) -> float:
    """Distinct word bigrams over all answers / all bigrams (Li et al. 2016); 0 for none."""
    grams: list[tuple[str, str]] = []
    for text in texts:
        words = re.findall(r"[a-z']+", text.lower())
        grams += zip(words, words[1:])
    return len(set(grams)) / len(grams) if grams else 0.0


def _run_mode(explainer: Any, table: Any, zs: np.ndarray, head: list[str], mode: str,
              batch_size: int, seed: int, progress: bool) -> tuple[list[Any], float, int]:
    """Every answer of one mode (`answers.Answer`s); seconds and new tokens."""
    out: list[Any] = []
    tokens_out, start = 0, time.perf_counter()
    for first in tqdm(range(0, len(table), batch_size), desc=mode, disable=not progress):
        rows = np.arange(first, min(first + batch_size, len(table)))
        labels = [head[k] if mode == "explain_label" else None for k in rows]
        hints = [None if mode == "tokens_only" else zs[k] for k in rows]
        temperature = None if mode == "explain_label" else 0.0  # recognition: greedy
        got = answer_batch(explainer, table.tokens(rows), labels, hints, seed=seed + first,
                           temperature=temperature)
        out += got
        tokens_out += sum(a.new_tokens for a in got)
    return out, time.perf_counter() - start, tokens_out


def _accuracy(stated: Sequence[Optional[str]], truth: np.ndarray, clips: np.ndarray
              ) -> tuple[float, float]:
    """Window accuracy, and clip accuracy of the most common label of each clip."""
    window = float(np.mean([s == t for s, t in zip(stated, truth)]))
    by_clip = {c: _vote([stated[i] for i in np.where(clips == c)[0]]) for c in set(clips)}
    clip = float(np.mean([by_clip[c] == truth[clips == c][0] for c in by_clip]))
    return window, clip


def _score(texts: list[str], judged: Optional[list[str]], zs: np.ndarray, truth: np.ndarray,
           clips: np.ndarray, readings: Optional[list[Optional[str]]] = None
           ) -> tuple[dict[str, Any], list[Optional[str]]]:
    """Faithfulness and coherence summary, variety, and the accuracy of each stated label.

    `judged`: the label each answer must explain; None checks each answer against the label
    it states itself (recognition), or the true one where it states none. `readings`: the
    second reading each answer must name when it differs from its label.
    """
    stated = [parse_explanation(t).label for t in texts]
    judged = judged or [s if s in EMOTION_STYLES else t for s, t in zip(stated, truth)]
    readings = readings or [None] * len(texts)
    checks = [check_explanation(t, j, z, r) for t, j, z, r in zip(texts, judged, zs, readings)]
    out = summarise_checks(checks)
    out["window_accuracy"], out["clip_accuracy"] = _accuracy(stated, truth, clips)
    out["distinct_2"] = round(distinct_2(texts), 4)
    out["distinct_answers"] = len(set(texts))
    return out, stated


def evaluate_llm(explainer_dir: Optional[Path] = None, tokenizer_dir: Optional[Path] = None,
                 data_root: DataRoots = None, contents: Optional[Sequence[str]] = None,
                 llm: Optional[str] = None, max_windows: int = 0, batch_size: int = 8,
                 threads: int = 2, examples: int = 10, progress: bool = True,
                 whole_folder: bool = False, modes: Sequence[str] = MODES,
                 stride_s: float = 0.5, seed: int = 0,
                 temperature: Optional[float] = None,
                 decoding: Optional[str] = None) -> dict[str, Any]:
    """Evaluate on the emotion windows of `contents` (default: the explainer's held-out ones),
    in every dataset that has them.

    `whole_folder`: every emotion-labelled window of `data_root`, whatever its action (for
    `emotion-node evaluate --llm` on a user's folder); `contents` is then ignored. `stride_s`:
    seconds between window ends. `seed`: of the sampled answers (one per batch, seed + row);
    `temperature` replaces the explainer's own (0: greedy); `decoding` its decoding ("grammar"
    or "free", `ExplainerConfig.decoding`).
    """
    import torch

    from emotion_node.model.explainer import Explainer
    from emotion_node.model.model_files import (
        default_explainer_dir, default_model_dir, read_config)
    from emotion_node.model.tokenizer import TokenizerConfig
    from emotion_node.training.window_table import build_window_table

    torch.set_num_threads(threads)
    tokenizer_dir = Path(tokenizer_dir) if tokenizer_dir is not None else default_model_dir()
    explainer = Explainer.load(explainer_dir or default_explainer_dir(tokenizer_dir), llm=llm,
                               tokenizer_dir=tokenizer_dir)
    if temperature is not None:
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        explainer.config.temperature = float(temperature)
    if decoding is not None:  # checked as the config checks it
        explainer.config = dataclasses.replace(explainer.config, decoding=decoding)
    held = explainer.config.training.get("holdout", [])
    table = build_window_table(tokenizer_dir, data_root, stride_s, progress=progress,
                               shared_only=not whole_folder, emotions_only=whole_folder)
    contents = sorted(set(table.contents.tolist())) if whole_folder else \
        (list(contents) if contents else list(held))
    if not contents:
        raise ValueError("no contents to evaluate: pass contents (the explainer lists none)")
    unknown = sorted(set(contents) - set(table.contents.tolist()))
    if unknown:
        raise ValueError(f"contents {unknown} are not in the data")
    rows = np.where(np.isin(table.contents, contents) & np.isin(table.emotions, EMOTION_STYLES))[0]
    if max_windows and len(rows) > max_windows:
        rows = rows[np.linspace(0, len(rows) - 1, max_windows).round().astype(int)]
    if not len(rows):
        raise ValueError(f"no window with an emotion label {list(EMOTION_STYLES)} to evaluate")
    labels = TokenizerConfig.from_dict(read_config(tokenizer_dir)).labels
    report = _report(explainer, table.subset(rows), labels, batch_size, examples, progress,
                     modes, seed)
    report.update(contents=contents, trained_on_these=sorted(set(contents) - set(held)),
                  temperature=explainer.config.temperature, top_p=explainer.config.top_p)
    return report


def _report(explainer: Any, table: Any, labels: Sequence[str], batch_size: int,
            examples: int, progress: bool, modes: Sequence[str] = MODES,
            seed: int = 0) -> dict[str, Any]:
    """Run `modes` (the node's `explain_label` and `recognise` at least, or `READING_ONLY`)
    over all rows of `table` and gather the scores."""
    reading_only = tuple(modes) == READING_ONLY
    missing = {"explain_label", "recognise"} - set(modes)
    if not reading_only and (missing or not set(modes) <= set(MODES)):
        raise ValueError(f"modes must include explain_label and recognise, within {MODES}, "
                         f"or be {READING_ONLY[0]} alone")
    head = [labels[i] for i in table.probs.argmax(-1)]
    truth, clips = table.emotions, table.clip
    keys = table.action_keys()
    zs = np.stack([explainer.zscores(table.span_cues(r), str(keys[r]))
                   for r in range(len(table))])  # (N, 3, 7)
    report: dict[str, Any] = {"windows": len(table), "clips": len(set(clips)), "modes": {}}
    if reading_only:
        batches = [np.arange(first, min(first + batch_size, len(table)))
                   for first in range(0, len(table), batch_size)]
        probs = np.concatenate([reading_probs(explainer, table.tokens(rows), list(zs[rows]))
                                for rows in tqdm(batches, desc="reading", disable=not progress)])
        report.update(_recognition(table, labels, head, probs, explainer.config.labels))
        return report
    answers: dict[str, list[Any]] = {}
    for mode in modes:
        answers[mode], seconds, n_tokens = _run_mode(explainer, table, zs, head, mode,
                                                     batch_size, seed, progress)
        texts = [a.text for a in answers[mode]]
        node = mode == "explain_label"
        scored, _ = _score(texts, head if node else None, zs, truth, clips,
                           [a.reading for a in answers[mode]] if node else None)
        scored.update(seconds=round(seconds, 1), s_per_explanation=round(seconds / len(table), 3),
                      tokens_per_s=round(n_tokens / seconds, 1))
        if node:
            scored["first_sample_passed"] = float(np.mean([a.first_passed
                                                           for a in answers[mode]]))
            scored["sources"] = {k: sum(a.source == k for a in answers[mode]) for k in SOURCES}
        report["modes"][mode] = scored
    plain = [template_explanation(h, z) for h, z in zip(head, zs)]
    report["modes"]["template"] = _score(plain, head, zs, truth, clips)[0]
    coherent = [coherent_template(h, z) for h, z in zip(head, zs)]
    report["modes"]["coherent_template"] = _score(coherent, head, zs, truth, clips)[0]
    node = report["modes"]["explain_label"]
    published = answers["explain_label"]
    readings = [a.reading for a in published]
    # The LLM alone: its last answer where the composer replaced it.
    alone = [a.llm_text if a.llm_text is not None else a.text for a in published]
    node["llm_alone"] = _score(alone, head, zs, truth, clips, readings)[0]
    node["same_as_template"] = float(np.mean([a.text == b for a, b in zip(published, plain)]))
    node["llm_alone"]["same_as_template"] = float(np.mean([a == b for a, b in
                                                           zip(alone, plain)]))
    node["llm_written_share"] = sum(a.source != "composed" for a in published) / len(table)
    node["llm_own_faithfulness"] = node["llm_alone"]["faithfulness"]
    # What the composer alone would publish for the same windows (its words drawn per window).
    composed = _composed(head, zs, readings, seed)
    report["modes"]["composer"] = _score(composed, head, zs, truth, clips, readings)[0]
    hits = recovered_hits(
        {"published": [a.text for a in published], "llm_own": alone, "composer": composed,
         "template": plain, "coherent_template": coherent}, head)
    report["label_from_text"] = {kind: float(np.mean(h)) for kind, h in hits.items()}
    # The LLM's own against the composer's, window by window (the comparison).
    report["label_from_text_paired"] = paired_recovery(hits, "llm_own", "composer")
    # The composer's words are one random draw per window: its rate over many draws is what
    # the LLM's one sample is compared with (a single draw moves by about a point).
    report["label_from_text_composer_draws"] = _composer_draws(head, zs, readings, seed,
                                                               hits["composer"])
    report.update(_recognition(table, labels, head,
                               np.array([a.reading_probs for a in published]),
                               explainer.config.labels))
    report.update(
        faithfulness=node["faithfulness"], same_as_template=node["same_as_template"],
        label_cue_clashes=node["label_cue_clashes"], distinct_2=node["distinct_2"],
        degenerate=sum(node["degenerate"].values()),
        composed_share=node["sources"]["composed"] / len(table),
        llm_written_share=node["llm_written_share"],
        llm_own_faithfulness=node["llm_own_faithfulness"],
        decoding=explainer.config.decoding,
        examples=_examples(table, head, answers["explain_label"], zs, examples))
    return report


def _composed(head: Sequence[str], zs: np.ndarray, readings: Sequence[Optional[str]],
              seed: int, draw: int = 0) -> list[str]:
    """The composer's answers to the windows, words drawn per window (draw 0: the paired one)."""
    return [compose_answer(h, *split_by_label(h, salient_claims(z)),
                           np.random.default_rng([seed, k] + ([draw] if draw else [])), r)
            for k, (h, z, r) in enumerate(zip(head, zs, readings))]


def _composer_draws(head: Sequence[str], zs: np.ndarray, readings: Sequence[Optional[str]],
                    seed: int, paired_hits: Sequence[bool],
                    draws: int = COMPOSER_DRAWS) -> dict[str, Any]:
    """The label read back from the composer's text over `draws` independent draws of its
    words, the first the paired one (whose hits are given): mean, lowest and highest share."""
    later = [recovered_hits({"composer": _composed(head, zs, readings, seed, d)},
                            head)["composer"] for d in range(1, draws)]
    rates = [float(np.mean(hits)) for hits in [paired_hits, *later]]
    return {"draws": draws, "mean": float(np.mean(rates)), "min": min(rates),
            "max": max(rates)}


def _clip_accuracy(probs: np.ndarray, names: Sequence[str], truth: np.ndarray,
                   clips: np.ndarray) -> float:
    """Clip accuracy of the label with the highest mean probability over each clip's windows."""
    return float(np.mean([names[int(probs[clips == c].mean(0).argmax())] == truth[clips == c][0]
                          for c in sorted(set(clips))]))


def _recognition(table: Any, labels: Sequence[str], head: list[str],
                 reading_probs: np.ndarray, reading_labels: Sequence[str]) -> dict[str, Any]:
    """The head's and the explainer's reading's accuracy, overall and per dataset.

    `reading_probs` (N, C): the reading's probabilities, in `reading_labels` order; the reading
    is the most probable. Both clip accuracies use one rule, the label with the highest mean
    probability over the clip (`*_clip_accuracy`); `*_clip_accuracy_vote` gives each the most
    common window label.
    """
    truth, clips = table.emotions, table.clip
    readings = [reading_labels[int(i)] for i in reading_probs.argmax(-1)]
    out: dict[str, Any] = {"per_dataset": {}, "clip_rule": "highest mean probability"}
    for key in [None] + sorted(set(table.datasets.tolist())):
        rows = np.arange(len(table)) if key is None else np.where(table.datasets == key)[0]
        llm_window, llm_vote = _accuracy([readings[i] for i in rows], truth[rows], clips[rows])
        head_window, head_vote = _accuracy([head[i] for i in rows], truth[rows], clips[rows])
        part = {"windows": len(rows), "clips": len(set(clips[rows])),
                "llm_window_accuracy": llm_window,
                "llm_clip_accuracy": _clip_accuracy(reading_probs[rows], reading_labels,
                                                    truth[rows], clips[rows]),
                "llm_clip_accuracy_vote": llm_vote,
                "head_window_accuracy": head_window,
                "head_clip_accuracy": _clip_accuracy(table.probs[rows], labels, truth[rows],
                                                     clips[rows]),
                "head_clip_accuracy_vote": head_vote,
                "agreement": float(np.mean([readings[i] == head[i] for i in rows]))}
        if key is None:
            out.update(part)
        else:
            out["per_dataset"][key] = part
    return out


def _examples(table: Any, head: list[str], answers: list[Any], zs: np.ndarray,
              count: int) -> list[dict[str, Any]]:
    """`count` explained windows spread evenly over the evaluated ones."""
    picks = np.linspace(0, len(table) - 1, min(count, len(table))).round().astype(int)
    out = []
    for k in picks:
        check = check_explanation(answers[k].text, head[k], zs[k], answers[k].reading)
        out.append({"dataset": str(table.datasets[k]), "content": str(table.contents[k]),
                    "style": str(table.styles[k]), "emotion": str(table.emotions[k]),
                    "label": head[k], "reading": answers[k].reading,
                    "explanation": answers[k].text, "claims": check.claims,
                    "supported": check.held, "clashes": len(check.clashes)})
    return out


def fold_pair(fold_dir: Path, data_root: DataRoots = None, recipe_dir: Optional[Path] = None,
              threads: int = 1, progress: bool = True) -> tuple[Path, Path]:
    """A tokenizer and an explainer that never saw the held-out actions, in `fold_dir`
    (`tokenizer/`, `explainer/`, and the explainer's checkpoint in `run/`), trained with the
    recipes recorded in `recipe_dir` (default: the committed tokenizer) and its explainer, minus
    those actions. What `fold_dir` already holds with the same recipes is kept; a half-done
    explainer run resumes."""
    from dataclasses import asdict

    from emotion_node.model.model_files import (
        default_explainer_dir, default_model_dir, read_config, tokenizer_fingerprint)
    from emotion_node.training.train_explainer import (
        ExplainerTrainConfig, train_and_save, train_fold_tokenizer)

    recipe_dir = Path(recipe_dir) if recipe_dir is not None else default_model_dir()
    recorded = _explainer_recipe(default_explainer_dir(recipe_dir))
    cfg = ExplainerTrainConfig(**{**recorded, "threads": threads})
    tokenizer_dir, explainer_dir = Path(fold_dir) / "tokenizer", Path(fold_dir) / "explainer"
    if not (tokenizer_dir / "config.json").is_file():
        train_fold_tokenizer(data_root, cfg.holdout, tokenizer_dir, recipe_dir, threads,
                             progress)
    held = read_config(tokenizer_dir).get("training", {}).get("holdout")
    if sorted(held or []) != sorted(cfg.holdout):
        raise ValueError(f"{tokenizer_dir} holds out {held}, the explainer's recipe "
                         f"{list(cfg.holdout)}: use another fold folder")
    config = explainer_dir / "explainer.json"
    if config.is_file():
        import json

        training = json.loads(config.read_text()).get("training", {})
        same = {k: v for k, v in training.get("train_config", {}).items()
                if k not in ("threads", "save_every")} == \
            {k: v for k, v in json.loads(json.dumps(asdict(cfg))).items()
             if k not in ("threads", "save_every")}
        if same and training.get("tokenizer") == tokenizer_fingerprint(tokenizer_dir):
            return tokenizer_dir, explainer_dir
    run_dir = Path(fold_dir) / "run"
    try:
        train_and_save(explainer_dir, cfg, tokenizer_dir, data_root, run_dir, progress=progress)
    except ValueError as err:
        if "--fresh" not in str(err):
            raise
        # The fold folder's own checkpoint, of another recipe: this recipe starts over.
        train_and_save(explainer_dir, cfg, tokenizer_dir, data_root, run_dir, resume=False,
                       progress=progress)
    return tokenizer_dir, explainer_dir


def _explainer_recipe(explainer_dir: Path) -> dict[str, Any]:
    """The training settings recorded in an explainer's config (threads and saving aside)."""
    import json

    config = explainer_dir / "explainer.json"
    if not config.is_file():
        raise FileNotFoundError(f"{config} not found: no explainer recipe to follow")
    from dataclasses import fields

    from emotion_node.training.train_explainer import ExplainerTrainConfig

    recorded = json.loads(config.read_text()).get("training", {}).get("train_config")
    if recorded is None:
        raise ValueError(f"{config} records no train_config")
    unknown = sorted(set(recorded) - {f.name for f in fields(ExplainerTrainConfig)})
    if unknown:
        raise ValueError(f"{config} records settings this version does not know: {unknown}")
    # Recorded before the label had its own weight: trained at weight 1.
    recorded = {"label_weight": 1.0, **recorded}
    return {k: v for k, v in recorded.items() if k not in ("threads", "save_every")}
