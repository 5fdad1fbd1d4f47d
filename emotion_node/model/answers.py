"""One explanation request end to end: the explainer's own reading, the explanation of a label
with the checker in the loop.

The reading is the emotion the explainer itself names for the window (task recognise, with the
cue hint): every label's answer word is scored after `Emotion:` (one read of the prompt, then a
step or two per word from its cache), so it costs about one prompt read, not a generation, and
it comes with a probability per label (`Answer.reading_probs`), which an evaluation averages
over a clip the way it averages the tokenizer head's. The explanation of the label is then
asked with that reading in the prompt when it differs, and its answer says so. Answers may be
sampled for varied words; one the checker rejects (a claim the cues do not support, a silent
clash, a contradiction or a degenerate text) is replaced by the greedy answer to the same
prompt, and where that is rejected too, by the answer the composer builds from the same hint
(`wording.compose_answer`, words drawn from the same seed): what reaches a user has been
checked. The sampled and the greedy answer are generated side by side in one batch
(`GreedyRows`): on a CPU a batch of two costs about 1.15 times one answer, where answering
again after a rejection cost twice. `Answer.source` says which one it is and `Answer.llm_text`
keeps the LLM's last rejected answer, so an evaluation can score the LLM alone.

An explanation with measured cues is decoded under its window's grammar
(`answer_grammar`, `ExplainerConfig.decoding`): every answer the LLM can write there passes the
checker, so no greedy row is generated beside the sample; the checker still judges it, and the
composer still stands behind it.

Functions take the explainer as `Any`: the explainer module calls them (no import cycle).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch

from emotion_node.model.answer_grammar import AnswerConstraint, answer_language, longest, to_regex
from emotion_node.model.explanations import CheckResult, check_explanation, parse_explanation
from emotion_node.model.wording import (
    EMOTION_WORDS, compose_answer, salient_claims, split_by_label)

SOURCES = ("sampled", "greedy", "composed")


@dataclass
class Answer:
    """One finished request."""

    text: str
    label: Optional[str]          # the style explained; None when the explainer recognised
    reading: Optional[str]        # the style the explainer read itself (None: none parsed)
    first_passed: bool = True     # False: the first answer failed the checker (replaced)
    new_tokens: int = 0           # generation steps (of the longer row, sampled or greedy)
    source: str = "sampled"       # SOURCES: the LLM sampled it, answered greedily, or the
    #                               composer wrote it after both LLM answers were rejected
    llm_text: Optional[str] = None  # composed: the LLM's rejected (greedy) answer
    reading_probs: Optional[tuple[float, ...]] = None  # of every label, explainer.config.labels


def passes(check: CheckResult) -> bool:
    """Every claim holds; no clash, contradiction or degenerate text, and no cue that fits the
    label given as contrary ("although the head is lowered" of a sad person)."""
    return (check.held == check.claims and not check.clashes and not check.contradictions
            and not check.degenerate and not check.contrary_supporting)


def label_ids(explainer: Any) -> tuple[list[int], dict[str, list[int]]]:
    """Ids of the answer opening `Emotion:`, and per label the ids of ` <word>.` after it."""
    cached = getattr(explainer, "_label_ids", None)
    if cached is not None:
        return cached
    encode = lambda s: explainer.tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa
    prefix = encode("Emotion:")
    words = {}
    for style in explainer.config.labels:
        ids = encode(f"Emotion: {EMOTION_WORDS[style]}.")
        if ids[:len(prefix)] != prefix or len(ids) == len(prefix):
            raise ValueError(f"the LLM's tokenizer splits 'Emotion: {EMOTION_WORDS[style]}.' "
                             f"across the answer opening; a reading cannot be scored")
        words[style] = ids[len(prefix):]
    explainer._label_ids = (prefix, words)
    return prefix, words


@torch.no_grad()
def reading_probs(explainer: Any, tokens: Sequence[Any], zs: Sequence[Optional[np.ndarray]]
                  ) -> np.ndarray:
    """(B, C) how each window reads to the explainer (task recognise, with the hint when a z is
    given): the probability of every label's whole answer word (` <word>.` after `Emotion:`),
    renormalised over the labels, in `explainer.config.labels` order.

    The prompt is read once; a label's word pieces after the first are scored from a copy of
    its key-value cache, so the cost is one prompt read plus a few one-token steps. Whole words
    are scored, not the first piece alone: `not confident` and `neutral` compete as words.
    """
    prefix, words = label_ids(explainer)
    prompts = [explainer.make_prompt("recognise", None, z) for z in zs]
    embeds, mask, _ = explainer.embed(tokens, prompts, prefix=prefix)  # left-padded
    model = explainer.llm.get_base_model() if hasattr(explainer.llm, "get_base_model") \
        else explainer.llm
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(inputs_embeds=embeds, attention_mask=mask, position_ids=positions,
                use_cache=True, logits_to_keep=1)
    first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # (B, V)
    rows = len(prompts)
    scores = torch.zeros(rows, len(explainer.config.labels))
    for j, style in enumerate(explainer.config.labels):
        ids = words[style]
        scores[:, j] = first[:, ids[0]].cpu()
        if len(ids) == 1:
            continue
        rest = len(ids) - 1
        step = model(input_ids=torch.tensor([ids[:-1]] * rows, device=mask.device),
                     attention_mask=torch.cat([mask, mask.new_ones(rows, rest)], dim=1),
                     position_ids=positions[:, -1:] + torch.arange(1, rest + 1,
                                                                   device=mask.device),
                     past_key_values=copy.deepcopy(out.past_key_values), use_cache=True)
        later = torch.log_softmax(step.logits.float(), dim=-1)  # (B, rest, V)
        scores[:, j] += later[:, torch.arange(rest), torch.tensor(ids[1:])].sum(-1).cpu()
    return torch.softmax(scores, dim=-1).numpy()


def read(explainer: Any, tokens: Sequence[Any], zs: Sequence[Optional[np.ndarray]]
         ) -> list[str]:
    """The label each window reads as to the explainer: the most probable of `reading_probs`."""
    labels = explainer.config.labels
    return [labels[int(i)] for i in reading_probs(explainer, tokens, zs).argmax(-1)]


def answer_batch(explainer: Any, tokens: Sequence[Any], labels: Sequence[Optional[str]],
                 zs: Sequence[Optional[np.ndarray]], seed: Optional[int] = None,
                 temperature: Optional[float] = None, stopping_criteria: Any = None,
                 stop: Any = None, **generate_kwargs: Any) -> list[Answer]:
    """Answer a batch: a label -> read the window, then explain the label (naming a differing
    reading); None -> recognise. `zs`: z-scores ((7,) or (3, 7)) for the hint, or None.

    `temperature` (default: the explainer's) > 0 samples, seeded with `seed`; a sampled answer
    the checker rejects is replaced by the greedy one, and an explanation the checker still
    rejects by the composer's (its words drawn from `seed`; without a seed its first choices).
    `stop`: an object whose `fired` ends the request early (the deadline), so nothing follows
    it. `generate_kwargs` go to every generation (a static cache on CUDA, say).
    """
    explain = [i for i, label in enumerate(labels) if label is not None]
    readings: list[Optional[str]] = [None] * len(labels)
    probs: list[Optional[tuple[float, ...]]] = [None] * len(labels)
    if explain:
        read_as = reading_probs(explainer, [np.asarray(t)[explain] for t in tokens],
                                [zs[i] for i in explain])
        for i, row in zip(explain, read_as):
            readings[i] = explainer.config.labels[int(row.argmax())]
            probs[i] = tuple(float(p) for p in row)
    prompts = [explainer.make_prompt("explain", label, z, readings[i]) if label is not None
               else explainer.make_prompt("recognise", None, z)
               for i, (label, z) in enumerate(zip(labels, zs))]
    temp = explainer.config.temperature if temperature is None else float(temperature)
    if temp > 0 and seed is not None:
        torch.manual_seed(seed)
    first = "sampled" if temp > 0 else "greedy"
    languages = _languages(explainer, labels, zs, readings)
    # Rows the checker judges (a hint) get their greedy fallback in the same batch, unless
    # their grammar already makes every answer one the checker accepts (no second row to pay).
    backed = [i for i, z in enumerate(zs) if z is not None and languages[i] is None] \
        if temp > 0 else []
    rows = list(range(len(labels))) + backed
    kwargs = dict(generate_kwargs)
    processors: list[Any] = []
    if any(language is not None for language in languages):
        processors.append(AnswerConstraint(
            [None if languages[i] is None else to_regex(languages[i]) for i in rows],
            guidance_tokenizer(explainer), explainer.stop_ids))
        if "max_new_tokens" not in kwargs:
            kwargs["max_new_tokens"] = _room(explainer, languages)
    if backed:
        processors.append(GreedyRows(range(len(labels), len(rows))))
    if processors:
        from transformers import LogitsProcessorList
        kwargs["logits_processor"] = LogitsProcessorList(processors)
    texts, counts = explainer.generate([np.asarray(t)[rows] for t in tokens],
                                       [prompts[i] for i in rows],
                                       stopping_criteria=stopping_criteria, temperature=temp,
                                       **kwargs)
    greedy = dict(zip(backed, zip(texts[len(labels):], counts[len(labels):])))
    out = []
    for i, (text, count) in enumerate(zip(texts[:len(labels)], counts)):
        reading = readings[i] if labels[i] is not None else parse_explanation(text).label
        steps = max(count, greedy[i][1]) if i in greedy else count
        out.append(Answer(text, labels[i], reading, True, steps, first,
                          reading_probs=probs[i]))
    if stop is not None and stop.fired:
        return out
    rejected = _rejected(out, zs)
    for i in [i for i in rejected if i in greedy]:
        reading = out[i].reading if labels[i] is not None else \
            parse_explanation(greedy[i][0]).label
        out[i] = Answer(greedy[i][0], labels[i], reading, False, out[i].new_tokens, "greedy",
                        reading_probs=out[i].reading_probs)
    if greedy:
        rejected = _rejected(out, zs)
    for i in rejected:
        label, z = labels[i], zs[i]
        if label is None or z is None:
            continue  # recognition is the LLM's own answer, checked or not
        fits, against = split_by_label(label, salient_claims(z))
        rng = None if seed is None else np.random.default_rng([seed, i])
        text = compose_answer(label, fits, against, rng, out[i].reading)
        out[i] = Answer(text, label, out[i].reading, False, out[i].new_tokens, "composed",
                        out[i].text, out[i].reading_probs)
    return out


def _languages(explainer: Any, labels: Sequence[Optional[str]],
               zs: Sequence[Optional[np.ndarray]], readings: Sequence[Optional[str]]
               ) -> list[Any]:
    """Per row, the grammar its explanation is decoded under (`answer_grammar`), or None: a
    recognition, a request without measured cues, or an explainer that decodes freely."""
    if explainer.config.decoding != "grammar":
        return [None] * len(labels)
    return [None if label is None or z is None else answer_language(label, z, reading)
            for label, z, reading in zip(labels, zs, readings)]


def guidance_tokenizer(explainer: Any) -> Any:
    """llguidance's view of the explainer's tokenizer, built once per explainer."""
    cached = getattr(explainer, "_guidance_tokenizer", None)
    if cached is None:
        cached = AnswerConstraint.tokenizer_of(explainer.tokenizer, explainer.stop_ids)
        explainer._guidance_tokenizer = cached
    return cached


def _room(explainer: Any, languages: Sequence[Any]) -> int:
    """Generation steps for a batch under grammars: the configured number, or the longest
    answer any row's grammar allows (and its end), so no allowed answer is cut."""
    lengths = [len(explainer.tokenizer(longest(lang), add_special_tokens=False)["input_ids"])
               for lang in languages if lang is not None]
    return max([explainer.config.max_new_tokens] + [n + 2 for n in lengths])


class GreedyRows:
    """A logits processor that makes the given batch rows greedy inside a sampled generation:
    every score but the row's highest is removed, so temperature and top-p leave one choice,
    the argmax, as greedy decoding would take it."""

    def __init__(self, rows: Sequence[int]) -> None:
        self.rows = list(rows)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        greedy = scores[self.rows]
        top = greedy.max(dim=-1, keepdim=True).values
        scores[self.rows] = greedy.masked_fill(greedy < top, float("-inf"))
        return scores


def _rejected(answers: Sequence[Answer], zs: Sequence[Optional[np.ndarray]]) -> list[int]:
    """Rows with a hint whose answer the checker rejects."""
    return [i for i, (a, z) in enumerate(zip(answers, zs)) if z is not None and not passes(
        check_explanation(a.text, a.label or _stated(a), z, a.reading if a.label else None))]


def _stated(answer: Answer) -> str:
    """The label a recognised answer states (a valid style, else any, so checking flags it)."""
    return answer.reading if answer.reading in EMOTION_WORDS else "normal"
