"""The answers one window's measurements allow, as a grammar the LLM decodes under.

For a label to explain, the window's z-scores and the explainer's reading, `answer_language`
builds every answer the composer (`wording.compose_answer`) could write, with each of the
composer's choices widened to every option that stays true: the order of the reasons (every cue
the hint lists as fitting the label, one or two, as the composer gives them), their phrasings,
every span under which a claim holds (`explanations.claim_holds`), the openers and connectives,
which measured contrary cue is named (always marked as contrary; for a neutral label with two
departures or fewer, "nothing else stands out" is said, as the composer says it: that is a
neutral answer's evidence), and the general statement's frame and predicate (one naming a cue
given as a reason where the emotion has one). A claim the measurement does not support, a
fitting cue given as contrary, a label word other than the published one, or a second reading
other than the explainer's cannot be spelt. The LLM chooses
among the options with its own probabilities (sampled or greedy); `AnswerConstraint` enforces
the grammar at every generation step through llguidance.

Why the composer's vocabulary between claims rather than free words: the checker counts any
statement about the person it cannot parse as a claim that does not hold, so free wording
would let unverifiable statements through. Why llguidance: of the maintained libraries
compared on this grammar (`emotion-node bench grammar`), it builds a per-window constraint
without compiling the grammar against the vocabulary first (a window's grammar is new every
time), and it computes a step's mask in microseconds.

A language is a tree of `Seq` and `Alt` nodes over literal strings; `to_regex` renders it for
the constraint and `sample` draws a random member (for tests and benchmarks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np

from emotion_node.model.explanations import claim_holds
from emotion_node.model.wording import (
    ALTERNATIVES, CONTRARY_ALONE, CONTRARY_NEUTRAL, CONTRARY_NEUTRAL_REST,
    CONTRARY_WITH_REASONS, EMOTION_NOUNS, EMOTION_WORDS, GENERAL_FIT,
    GENERAL_NOT_HERE, GENERAL_PARTLY, GENERAL_PLAIN, HOLD_Z, LITTLE_OF,
    NO_CUE_SENTENCES, PERSON, REASON_OPENERS, SALIENT_Z, SPAN_WORDS, SPANS, Claim, CUE_WORDINGS,
    general_predicates, salient_claims, span_z, split_by_label)
from emotion_node.skeleton.cues import CUE_NAMES


@dataclass(frozen=True)
class Seq:
    """Parts one after another."""

    parts: tuple["Node", ...]


@dataclass(frozen=True)
class Alt:
    """One of the options."""

    options: tuple["Node", ...]


Node = Union[str, Seq, Alt]


def seq(*parts: Node) -> Node:
    """A sequence, flattened; empty strings dropped."""
    flat: list[Node] = []
    for part in parts:
        if isinstance(part, Seq):
            flat += part.parts
        elif part != "":
            flat.append(part)
    return flat[0] if len(flat) == 1 else Seq(tuple(flat))


def alt(options: Sequence[Node]) -> Node:
    """A choice among distinct options (one option is itself)."""
    unique = tuple(dict.fromkeys(options))
    if not unique:
        raise ValueError("a choice needs at least one option")
    return unique[0] if len(unique) == 1 else Alt(unique)


_SPECIAL = frozenset("\\.^$*+?{}[]|()")  # what a regex literal must escape (not spaces)


def to_regex(node: Node) -> str:
    """The language as a regular expression (literals escaped, choices as groups)."""
    if isinstance(node, str):
        return "".join("\\" + c if c in _SPECIAL else c for c in node)
    if isinstance(node, Seq):
        return "".join(to_regex(p) for p in node.parts)
    return "(?:" + "|".join(to_regex(o) for o in node.options) + ")"


def sample(node: Node, rng: np.random.Generator) -> str:
    """A random member of the language (each choice uniform)."""
    if isinstance(node, str):
        return node
    if isinstance(node, Seq):
        return "".join(sample(p, rng) for p in node.parts)
    return sample(node.options[int(rng.integers(len(node.options)))], rng)


def longest(node: Node) -> str:
    """The longest member of the language (in characters)."""
    if isinstance(node, str):
        return node
    if isinstance(node, Seq):
        return "".join(longest(p) for p in node.parts)
    return max((longest(o) for o in node.options), key=len)


def _cap(node: Node) -> Node:
    """The same language with its first letter upper-case."""
    if isinstance(node, str):
        return node[:1].upper() + node[1:]
    if isinstance(node, Seq):
        return Seq((_cap(node.parts[0]),) + node.parts[1:])
    return Alt(tuple(_cap(o) for o in node.options))


# ---- claims ---------------------------------------------------------------------------------
def _spans(claim: Claim, zs: np.ndarray) -> list[str]:
    """The spans under which the claim's cue holds in this window."""
    return [s for s in SPANS if claim_holds(Claim(claim.cue, claim.direction, s), zs)]


def _span_words(claim: Claim, zs: np.ndarray) -> list[str]:
    """Every span phrase (with "" for none) under which the claim holds in this window."""
    return list(dict.fromkeys(w for s in _spans(claim, zs) for w in SPAN_WORDS[s]))


FULL = ("person", "own")  # a clause with a subject: "the person" + a verb phrasing, or its own


def _clause(claim: Claim, zs: np.ndarray, forms: Sequence[str] = FULL,
            spans: Optional[Sequence[str]] = None) -> Any:
    """The claim in any of its phrasings of the given forms ("person": a verb phrasing after
    "the person"; "own": a phrasing with its own subject; "bare": a verb phrasing alone, after
    "and"), with any span phrase under which it holds (or one of `spans`); None when no
    phrasing has these forms."""
    words = _span_words(claim, zs) if spans is None else spans
    options = []
    for text in CUE_WORDINGS[(claim.cue, claim.direction)]:
        own = text.startswith(("the ", "there "))
        if own and "own" in forms:
            options.append(text)
        elif not own and "person" in forms:
            options.append(PERSON + text)
        elif not own and "bare" in forms:
            options.append(text)
    if not options:
        return None
    return seq(alt(options), alt([f" {w}" if w else "" for w in words]))


def _pair(first: Claim, second: Claim, zs: np.ndarray) -> Node:
    """Two claims joined as the composer joins them: after "the person ...", "and" with the
    second's verb alone or a clause with its own subject, or ", while" and the latter; after
    a clause with its own subject, "and" or ", while" and any whole clause. "The person"
    opens at most one clause of the two, and a span phrase is said once, so with one more
    clause (the contrary one) no three words can come three times (the checker's repetition
    rule)."""
    later = _span_words(second, zs)
    options = []
    for word in _span_words(first, zs):
        rest = [w for w in later if w == "" or w != word]
        joins = {"person": ((" and ", ("bare", "own")), (", while ", ("own",))),
                 "own": ((" and ", FULL), (", while ", FULL))}
        for form, ways in joins.items():
            head = _clause(first, zs, (form,), [word])
            tails = [seq(join, tail) for join, forms in ways
                     if (tail := _clause(second, zs, forms, rest)) is not None]
            if head is not None and tails:
                options.append(seq(head, alt(tails)))
    return alt(options)


def _claims(claims: Sequence[Claim], zs: np.ndarray) -> Node:
    """Every one of the claims (one or two), in either order: an answer gives all the
    evidence its hint lists, as the composer does."""
    if len(claims) not in (1, 2):
        raise ValueError(f"one or two claims to state, got {len(claims)}")
    return alt([_claims_in_order(stated, zs) for stated in _ordered(claims, len(claims))])


def _rest_usual_holds(stated: Sequence[Claim], zs: np.ndarray) -> bool:
    """"Nothing else stands out": every cue not stated stays below the checker's bound."""
    whole = np.nan_to_num(zs[0])
    named = {CUE_NAMES.index(c.cue) for c in stated}
    return all(abs(whole[i]) < SALIENT_Z + HOLD_Z for i in range(len(CUE_NAMES))
               if i not in named)


# ---- sentences ------------------------------------------------------------------------------
def _frames(frames: Sequence[str], clauses: Node, noun: str) -> Node:
    """Contrary frames with `{c}` (clauses) or `{C}` (capitalised) and `{noun}` filled in."""
    options = []
    for frame in frames:
        frame = frame.replace("{noun}", noun)
        key = "{C}" if "{C}" in frame else "{c}"
        before, after = frame.split(key)
        options.append(seq(before, _cap(clauses) if key == "{C}" else clauses, after))
    return alt(options)


def _general(style: str, frames: Sequence[str], named: Sequence[Claim] = ()) -> Node:
    """The general statement about `style` in any of the frames, with any predicate that
    names a cue given as a reason where there is one (`wording.general_predicates`)."""
    noun = EMOTION_NOUNS[style]
    return alt([frame.format(Noun=noun[:1].upper() + noun[1:], noun=noun, p=predicate)
                for frame in frames for predicate in general_predicates(style, named)])


def answer_language(style: str, z: np.ndarray, reading: Optional[str] = None) -> Node:
    """Every answer explaining `style` that the window's z-scores ((7,) or (3, 7)) support,
    naming `reading` as the second reading when it differs (as `wording.compose_answer`)."""
    if style not in EMOTION_WORDS:
        raise ValueError(f"unknown emotion style {style!r}; expected one of "
                         f"{list(EMOTION_WORDS)}")
    if reading is not None and reading not in EMOTION_WORDS:
        raise ValueError(f"unknown reading {reading!r}")
    zs = span_z(z)
    fits, against = split_by_label(style, salient_claims(zs))
    noun = EMOTION_NOUNS[style]
    branches: list[Node] = []
    if style == "normal":
        if not against:
            branches.append(seq(alt(NO_CUE_SENTENCES), " ",
                                _general(style, GENERAL_PLAIN + GENERAL_FIT)))
        for stated in _ordered(against, min(2, len(against))):  # as many as the composer
            clauses = _claims_in_order(stated, zs)
            if _rest_usual_holds(stated, zs):  # the composer's frame when two or fewer
                branches.append(seq(_frames(CONTRARY_NEUTRAL_REST, clauses, noun), " ",
                                    _general(style, GENERAL_PARTLY)))
            if len(against) > 2:  # with two or fewer, saying the rest is usual is the evidence
                branches.append(seq(_frames(CONTRARY_NEUTRAL, clauses, noun), " ",
                                    _general(style, GENERAL_NOT_HERE)))
    else:
        if fits:
            given = _claims(fits, zs)
            reasons = seq(alt([seq(o, given) if o else _cap(given) for o in REASON_OPENERS]), ".")
        else:
            reasons = alt([f.format(noun=noun) for f in LITTLE_OF])
        if against:  # one contrary cue, always named, always marked
            clauses = alt([_clause(c, zs) for c in against])
            frames = CONTRARY_WITH_REASONS if fits else CONTRARY_ALONE
            general: Sequence[str] = GENERAL_PARTLY if fits else GENERAL_NOT_HERE
            branches.append(seq(reasons, " ", _frames(frames, clauses, noun), " ",
                                _general(style, general, fits)))
        else:
            general = GENERAL_PLAIN + GENERAL_FIT if fits else GENERAL_PLAIN
            branches.append(seq(reasons, " ", _general(style, general, fits)))
    second = "" if reading is None or reading == style else \
        seq(" ", alt([a.format(word=EMOTION_WORDS[reading]) for a in ALTERNATIVES]))
    return seq(f"Emotion: {EMOTION_WORDS[style]}. ", alt(branches), second)


def _ordered(claims: Sequence[Claim], count: int) -> list[tuple[Claim, ...]]:
    """Every ordered choice of `count` distinct claims."""
    if count == 1:
        return [(c,) for c in claims]
    return [(a, b) for a in claims for b in claims if a != b] if count == 2 else []


def _claims_in_order(stated: Sequence[Claim], zs: np.ndarray) -> Node:
    """Exactly these claims, in this order."""
    return _clause(stated[0], zs) if len(stated) == 1 else _pair(stated[0], stated[1], zs)


# ---- decoding under the grammar -------------------------------------------------------------
class AnswerConstraint:
    """A transformers logits processor that lets each constrained batch row write only what
    its grammar allows, and end only where the grammar is complete (llguidance).

    `grammars`: per batch row, a regular expression (`to_regex`) or None (unconstrained);
    `tokenizer`: llguidance's view of the LLM's tokenizer (`AnswerConstraint.tokenizer_of`);
    `stop_ids`: the ids that end an answer. A row whose grammar rejects the token the sampler
    drew (it cannot: the mask allows none) is left unconstrained from then on; the checker
    judges its answer as any other."""

    def __init__(self, grammars: Sequence[Optional[str]], tokenizer: Any,
                 stop_ids: Sequence[int]) -> None:
        self.stop_ids = list(stop_ids)
        self.matchers: list[Any] = [None if grammar is None else matcher_for(grammar, tokenizer)
                                    for grammar in grammars]
        self._length: Optional[int] = None  # prompt length: the first call's input width

    @staticmethod
    def tokenizer_of(hf_tokenizer: Any, stop_ids: Sequence[int]) -> Any:
        """llguidance's tokenizer for a Hugging Face fast tokenizer (about a second: cache it)."""
        import llguidance.hf

        return llguidance.hf.from_tokenizer(hf_tokenizer, eos_token=list(stop_ids))

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self._length is None:
            self._length = int(input_ids.shape[1])
        vocab = scores.shape[-1]
        for row, matcher in enumerate(self.matchers):
            if matcher is None:
                continue
            if input_ids.shape[1] > self._length:  # the token drawn last step
                token = int(input_ids[row, -1])
                if matcher.is_stopped() or not matcher.consume_token(token):
                    self.matchers[row] = None  # ended (or, never seen, off its grammar)
                    continue
            if matcher.is_stopped():
                allowed = np.zeros(vocab, dtype=bool)
                allowed[self.stop_ids] = True
            else:
                allowed = allowed_tokens(matcher, vocab)
            scores[row, torch.from_numpy(~allowed).to(scores.device)] = float("-inf")
        return scores


def matcher_for(grammar: str, tokenizer: Any) -> Any:
    """An llguidance matcher of a regular expression (`to_regex`) over `tokenizer`
    (`AnswerConstraint.tokenizer_of`); ValueError when llguidance rejects the grammar."""
    import llguidance

    matcher = llguidance.LLMatcher(tokenizer, llguidance.LLMatcher.grammar_from_regex(grammar),
                                   log_level=0)
    if matcher.is_error():
        raise ValueError(f"answer grammar rejected: {matcher.get_error()}")
    return matcher


def allowed_tokens(matcher: Any, vocab: int) -> np.ndarray:
    """(vocab,) bool: the tokens the matcher allows next (ids past its tokenizer's: none)."""
    bits = np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8)
    allowed = np.unpackbits(bits, bitorder="little")[:vocab].astype(bool)
    if len(allowed) < vocab:
        allowed = np.concatenate([allowed, np.zeros(vocab - len(allowed), bool)])
    return allowed
