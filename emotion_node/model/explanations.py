"""Grounded explanation text: the cue reference, the plain template and the checker.

A movement claim is about a cue's z-score against neutral motion of the same action
(`CueReference`), over the whole window or a span of it. The words of every claim come from
`emotion_node.model.wording`; the checker parses them back (`parse_explanation`) and verifies
each one against the window's z-scores, and checks the answer's coherence with the emotion
signatures (`emotion_node.model.signatures`): a claim against the label's signature must be
marked contrary, and a general statement must fit what was observed.

Answer format (parseable): `Emotion: <word>. <claims about this person>. <general statement>.`
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from emotion_node.model.labels import EMOTION_STYLES, hri_label
from emotion_node.model.signatures import AGAINST, SIGNATURES, SUPPORTS, relation
from emotion_node.model.wording import (
    BACKGROUND, CUE_PHRASES, CUE_WORDINGS, EMOTION_NOUNS, EMOTION_WORDS, HOLD_Z, NO_CUE_SENTENCES,
    SALIENT_Z, SPAN_WORDS, Claim, plain_claims_sentence, salient_claims, span_z)
from emotion_node.skeleton.cues import CUE_NAMES

__all__ = ["CueReference", "check_explanation", "claim_holds", "parse_explanation",
           "summarise_checks", "template_explanation", "to_style", "EMOTION_WORDS", "SALIENT_Z",
           "HOLD_Z"]

_WORD_TO_STYLE = {w: s for s, w in EMOTION_WORDS.items()}
# Emotion nouns as the parser finds them ("a neutral mood" also without its article).
_NOUN_TO_STYLE = {**{n: s for s, n in EMOTION_NOUNS.items()}, "neutral mood": "normal"}
_NOUN_ALTS = "|".join(re.escape(n) for n in sorted(_NOUN_TO_STYLE, key=len, reverse=True))
_NOUNS = rf"\b(?:{_NOUN_ALTS})\b"

# Paraphrases the parser accepts besides the exact phrasings (an LLM's close variants).
_PARAPHRASES: tuple[tuple[str, int, str], ...] = (
    ("tempo", 1, r"quick rhythm|fast rhythm|brisk rhythm|quick beat|quick steps"),
    ("tempo", -1, r"slow rhythm|slow beat|slow steps"),
    ("speed", 1, r"faster than usual|quicker than usual|moves fast|moves quickly|hurr(?:y|ies)"),
    ("speed", -1, r"more slowly than usual|slower than usual|moves slowly"),
    ("arm_swing", 1, r"swings? (?:the|their|its) arms widely|arms? swings? widely|wide arcs"
                     r"|large arm swing"),
    ("arm_swing", -1, r"(?:keeps?|holds?) (?:the|their|its) arms still|arms (?:hardly|barely) "
                      r"swing|little arm swing|arms stay still"),
    ("head_pitch", 1, r"head (?:is |stays )?(?:lowered|down|bowed|hanging)|head hangs"
                      r"|chin down|looks down"),
    ("head_pitch", -1, r"head (?:is |stays )?(?:up|high|raised|held high)|chin up|looks up"),
    ("expansion", 1, r"arms away from the (?:body|torso)|open posture|takes up space"),
    ("expansion", -1, r"arms close to the (?:body|torso)|closed posture|tucked in"),
    ("jerkiness", 1, r"abrupt(?:ly)?|jerky|jerk(?:s)?"),
    ("jerkiness", -1, r"smooth(?:ly)?"),
    ("bounce", 1, r"bounc(?:es?|ing|y)|bobs? up and down"),
    ("bounce", -1, r"barely rises? and falls?|little bounce|stays level"),
)


def _without_article(text: str) -> str:
    return text[4:] if text.startswith("the ") else text


# Exact phrasings first, longest first (a whole phrasing is consumed), then the paraphrases.
_EXACT = sorted({(c, d, _without_article(t)) for (c, d), ts in CUE_WORDINGS.items()
                 for t in ts + (CUE_PHRASES[(c, d)],)}, key=lambda item: (-len(item[2]), item))
_CLAIM_RES = tuple((c, d, re.compile(rf"\b(?:{p})\b")) for c, d, p in (
    [(c, d, re.escape(t)) for c, d, t in _EXACT] + list(_PARAPHRASES)))
_SPAN_RES = tuple((span, re.compile(rf"\b{re.escape(w)}\b")) for span, words in SPAN_WORDS.items()
                  for w in sorted(set(words) - {""}, key=len, reverse=True))
# Cue words of general statements (about an emotion, not this person): (cue, direction).
_GENERAL_MENTIONS: tuple[tuple[str, int, re.Pattern], ...] = tuple(
    (c, d, re.compile(rf"\b(?:{p})\b")) for c, d, p in (
        ("tempo", 1, r"quick rhythm|quick beat"), ("tempo", -1, r"slow rhythm|slow beat"),
        ("arm_swing", 1, r"wide arm swings?"), ("arm_swing", -1, r"little arm swing"),
        ("head_pitch", 1, r"lowered head|bowed head|head down|lowered"),
        ("head_pitch", -1, r"raised head|head held high|head up"),
        ("expansion", 1, r"open|takes up space|arms held away from the body"),
        ("expansion", -1, r"closed|arms kept close to the body"),
        ("jerkiness", 1, r"abrupt|jerky"), ("jerkiness", -1, r"smooth"),
        ("bounce", 1, r"bouncy|bouncing"),
        ("bounce", -1, r"barely rises and falls|little rise and fall"),
        ("speed", 1, r"fast|quick"), ("speed", -1, r"slow(?:ly)?")))
# A contrary marker puts every claim of its sentence against the label.
_CONTRARY = re.compile(r"\b(?:although|though|apart from|does not fit|do not fit|runs against|"
                       r"run against|points? the other way)\b")
_NOT_HERE = re.compile(r"\b(?:not|only partly|only part|but)\b")
_GENERAL_OPENER = re.compile(
    rf"^(?:{_NOUNS}|people|in general|typically|(?:this|that) (?:fits|matches))\b")
_FIT_OPENER = re.compile(r"^(?:this|that) (?:fits|matches)\b")
_WORDS = "|".join(re.escape(w) for w in sorted(_WORD_TO_STYLE, key=len, reverse=True))
_ALTERNATIVE = re.compile(rf"(?:could|might) also be read as ({_WORDS})\b|another reading of "
                          rf"this movement would be ({_WORDS})\b")
_LITTLE_OF = re.compile(rf"(?:shows? little of|little in the movement points to) ({_NOUN_ALTS})\b")
_REST_USUAL = re.compile(r"nothing else stands out(?: from the usual)?")
_NO_CUE = {s.lower().rstrip(".") for s in NO_CUE_SENTENCES}
# Words a claim sentence may hold besides cue phrases without saying anything more.
_FILLER = frozenset(
    "the person this they their his her its he she is are and also while keeps holds moves "
    "a an with in although though which does not fit rest one cue cues point points other way "
    "runs against some above all most clearly mainly apart from how that fits it movement "
    "measured show shows chiefly particular only same".split())
NO_CUE_SENTENCE = NO_CUE_SENTENCES[0]


@dataclass
class CueReference:
    """Neutral-motion statistics that turn raw cues into z-scores (per action, or global)."""

    global_mean: list[float]
    scale: list[float]
    content_means: dict[str, list[float]] = field(default_factory=dict)  # action key -> (7,)
    names: tuple[str, ...] = CUE_NAMES

    def zscores(self, cues: Mapping[str, float] | Sequence[float] | np.ndarray,
                content: Optional[str] = None) -> np.ndarray:
        """z-scores of (7,) cues (or (S, 7) cues of spans of one window), in `names` order;
        the action's neutral mean when `content` (an action key) is known, else global."""
        if isinstance(cues, Mapping):
            missing = [n for n in self.names if n not in cues]
            if missing:
                raise ValueError(f"cues lack {missing}")
            cues = [cues[n] for n in self.names]
        values = np.asarray(cues, dtype=np.float64)
        if values.shape[-1:] != (len(self.names),) or values.ndim > 2:
            raise ValueError(f"expected {len(self.names)} cues (or spans of them), got shape "
                             f"{values.shape}")
        known = self.content_means.get(content) if content is not None else None
        mean = np.asarray(known if known is not None else self.global_mean, dtype=np.float64)
        mean = np.where(np.isfinite(mean), mean, np.asarray(self.global_mean))
        return (values - mean) / np.asarray(self.scale)  # nan stays nan: never a claim

    @classmethod
    def fit(cls, window_cues: np.ndarray, window_actions: Sequence[str] | np.ndarray,
            window_emotions: Sequence[str] | np.ndarray, neutral: str = "normal",
            window_groups: Optional[Sequence[str] | np.ndarray] = None) -> "CueReference":
        """Fit from (N, 7) window cues: the neutral mean per action (key), and a robust spread
        of the emotion windows around their action's neutral mean, each group (default: each
        emotion) weighing the same, so no dataset's many windows of one label set the scale."""
        cues = np.asarray(window_cues, dtype=np.float64)
        actions, emotions = np.asarray(window_actions), np.asarray(window_emotions)
        groups = emotions if window_groups is None else np.asarray(window_groups)
        means: dict[str, np.ndarray] = {}
        for action in sorted(set(actions[emotions == neutral].tolist())):
            with warnings.catch_warnings():  # a cue nan in every window stays nan
                warnings.simplefilter("ignore", RuntimeWarning)
                means[action] = np.nanmean(cues[(actions == action) & (emotions == neutral)], 0)
        if not means:
            raise ValueError(f"no windows of the neutral style {neutral!r} to fit a reference")
        # Global reference: median over actions, so no single action dominates.
        global_mean = np.nanmedian(np.stack(list(means.values())), axis=0)
        rows = np.where(np.isin(emotions, EMOTION_STYLES) & np.isin(actions, list(means)))[0]
        dev = np.stack([cues[i] - means[actions[i]] for i in rows])  # (M, 7)
        counts = {g: int((groups[rows] == g).sum()) for g in set(groups[rows].tolist())}
        weight = np.array([1.0 / counts[g] for g in groups[rows]])
        centre = _weighted_median(dev, weight)
        mad = _weighted_median(np.abs(dev - centre), weight) * 1.4826
        scale = np.where(np.isfinite(mad) & (mad > 0), mad, 1.0)
        return cls(global_mean=[float(v) for v in global_mean],
                   scale=[float(v) for v in scale],
                   content_means={k: [float(x) for x in v] for k, v in means.items()})

    def to_dict(self) -> dict:
        """JSON-ready dict (nan becomes None)."""
        clean = lambda v: [None if not np.isfinite(x) else float(x) for x in v]  # noqa: E731
        return {"names": list(self.names), "global_mean": clean(self.global_mean),
                "scale": clean(self.scale),
                "content_means": {k: clean(v) for k, v in self.content_means.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> "CueReference":
        """Inverse of `to_dict`."""
        fix = lambda v: [float("nan") if x is None else float(x) for x in v]  # noqa: E731
        names = tuple(data.get("names", CUE_NAMES))
        if names != CUE_NAMES:
            raise ValueError(f"reference cues {names} differ from {CUE_NAMES}")
        return cls(global_mean=fix(data["global_mean"]), scale=fix(data["scale"]),
                   content_means={k: fix(v) for k, v in data.get("content_means", {}).items()},
                   names=names)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Column-wise weighted median of (M, K) values, nan entries left out (nan if none)."""
    out = np.full(values.shape[1], np.nan)
    for k in range(values.shape[1]):
        ok = np.isfinite(values[:, k])
        if ok.any():
            order = np.argsort(values[ok, k])
            cum = np.cumsum(weights[ok][order])
            out[k] = values[ok, k][order][np.searchsorted(cum, 0.5 * cum[-1])]
    return out


def to_style(label: str) -> str:
    """Dataset style of a label given as style, ROS-facing hri label or emotion word."""
    if label in EMOTION_WORDS:
        return label
    for style in EMOTION_STYLES:
        if label in (hri_label(style), EMOTION_WORDS[style]):
            return style
    raise ValueError(f"unknown emotion label {label!r}; expected one of {EMOTION_STYLES}")


def template_explanation(style: str, z: np.ndarray) -> str:
    """Baseline without any LLM, as the explainer first answered: the two strongest measured
    cues in fixed phrases, then the emotion's fixed general statement (no coherence rules)."""
    if style not in EMOTION_WORDS:
        raise ValueError(f"unknown emotion style {style!r}; expected one of {EMOTION_STYLES}")
    claims = [Claim(c.cue, c.direction) for c in salient_claims(z, max_claims=2)]
    return f"Emotion: {EMOTION_WORDS[style]}. {plain_claims_sentence(claims)} {BACKGROUND[style]}"


@dataclass
class GeneralStatement:
    """One general statement: the emotion it is about and the cues it names."""

    text: str
    style: Optional[str]
    mentions: list[tuple[str, int]]
    not_here: bool   # framed as not matching this movement ("but that is not what ...")
    fits: bool       # framed as matching it ("This fits ...")


@dataclass
class ParsedExplanation:
    """What the parser found in one explanation."""

    label: Optional[str]                       # dataset style named after `Emotion:`, if any
    claims: list[Claim]                        # movement claims about this person, as written
    contrary: list[bool]                       # per claim: stated as running against the label
    background: list[GeneralStatement]         # general statements
    unparsed: list[str]                        # person-sentence words no cue phrase explains
    no_cue: bool = False                       # "nothing stands out from the usual"
    rest_usual: bool = False                   # "nothing else stands out from the usual"
    little_of: list[str] = field(default_factory=list)  # styles said to show little here
    person_emotions: list[str] = field(default_factory=list)  # emotion words about the person
    other_nouns: list[str] = field(default_factory=list)  # emotion nouns in person sentences
    alternative: Optional[str] = None          # the second reading offered, if any


def _sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation, keeping non-empty pieces."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def _blank(text: str, match: re.Match) -> str:
    """Consume a match (same length keeps positions)."""
    return text[:match.start()] + " " * (match.end() - match.start()) + text[match.end():]


def _blank_all(pattern: re.Pattern, text: str) -> str:
    """Consume every match of `pattern` (same length keeps positions)."""
    return pattern.sub(lambda m: " " * len(m.group()), text)


def _general(sentence: str) -> GeneralStatement:
    low = sentence.lower()
    noun = re.search(_NOUNS, low)
    style = None if noun is None else _NOUN_TO_STYLE[noun.group(0)]
    mentions = []
    for cue, direction, pattern in _GENERAL_MENTIONS:
        if pattern.search(low):
            mentions.append((cue, direction))
            low = _blank_all(pattern, low)
    return GeneralStatement(sentence, style, mentions, bool(_NOT_HERE.search(sentence.lower())),
                            bool(_FIT_OPENER.match(sentence.lower())))


def _person(sentence: str, parsed: ParsedExplanation) -> None:
    """Claims, spans and the structural pieces of one sentence about this person."""
    low = sentence.lower()
    if low.rstrip(".!?") in _NO_CUE:
        parsed.no_cue = True
        return
    contrary = bool(_CONTRARY.search(low))
    for pattern, action in ((_ALTERNATIVE, "alternative"), (_LITTLE_OF, "little"),
                            (_REST_USUAL, "rest")):
        match = pattern.search(low)
        if match is None:
            continue
        if action == "alternative":
            parsed.alternative = _WORD_TO_STYLE[match.group(1) or match.group(2)]
        elif action == "little":
            parsed.little_of.append(_NOUN_TO_STYLE[match.group(1)])
        else:
            parsed.rest_usual = True
        low = _blank(low, match)
    found = []
    for cue, direction, pattern in _CLAIM_RES:
        for match in pattern.finditer(low):
            found.append((match.start(), match.end(), cue, direction))
        low = _blank_all(pattern, low)
    found.sort()
    spans = ["window"] * len(found)
    for span, pattern in _SPAN_RES:
        for match in pattern.finditer(low):
            before = [k for k, f in enumerate(found) if f[1] <= match.start()]
            if before or found:
                spans[before[-1] if before else 0] = span
        low = _blank_all(pattern, low)
    parsed.claims += [Claim(c, d, s) for (_, _, c, d), s in zip(found, spans)]
    parsed.contrary += [contrary] * len(found)
    parsed.other_nouns += [_NOUN_TO_STYLE[noun] for noun in re.findall(_NOUNS, low)]
    low = re.sub(_NOUNS, " ", low)
    parsed.person_emotions += [_WORD_TO_STYLE[w] for w in _WORD_TO_STYLE
                               if re.search(rf"\b{w}\b", low)]
    rest = [w for w in re.findall(r"[a-z']+", low) if w not in _FILLER]
    if rest:  # words about the person that no cue phrase accounts for
        parsed.unparsed.append(" ".join(rest))


def parse_explanation(text: str) -> ParsedExplanation:
    """Find the stated label, the movement claims and the general statements of one answer."""
    parsed = ParsedExplanation(label=None, claims=[], contrary=[], background=[], unparsed=[])
    body = text.strip()
    head = re.match(r"^emotion:\s*([a-z -]+?)\s*[.,;\n]", body, flags=re.IGNORECASE)
    if head:
        parsed.label = _WORD_TO_STYLE.get(head.group(1).lower().strip(), head.group(1).lower())
        body = body[head.end():]
    for sentence in _sentences(body):
        if _GENERAL_OPENER.match(sentence.lower()):
            parsed.background.append(_general(sentence))
        else:
            _person(sentence, parsed)
    return parsed


@dataclass
class CheckResult:
    """Faithfulness and coherence verdict of one explanation against its window's z-scores."""

    claims: int                 # movement claims found (unverifiable ones included)
    held: int                   # claims the measured cues support
    contradictions: list[str]   # reasons the text disagrees with the label it explains
    degenerate: list[str]       # "empty", "repetition", "cut", "format"
    unparsed: int               # unverifiable statements about the person (count as claims)
    stated_label: Optional[str]
    clashes: list[str] = field(default_factory=list)  # silent clashes with the signature
    contrary_supporting: int = 0  # supporting cues named as contrary (odd, not a clash)
    alternative: Optional[str] = None


def degenerate_reasons(text: str) -> list[str]:
    """Empty output, repetition loops, or text cut mid-sentence."""
    stripped = text.strip()
    if not stripped:
        return ["empty"]
    reasons = []
    words = re.findall(r"[a-z']+", stripped.lower())
    grams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    sentences = [s.lower() for s in _sentences(stripped)]
    if (grams and max(grams.count(g) for g in set(grams)) >= 3) or \
            len(sentences) != len(set(sentences)):
        reasons.append("repetition")
    if stripped[-1] not in ".!?":
        reasons.append("cut")
    return reasons


def claim_holds(claim: Claim, zs: np.ndarray) -> bool:
    """The cue's z-score lies at least HOLD_Z in the claimed direction over the claimed span:
    the window, both halves (throughout), or the named half (and more there than in the other)."""
    i = CUE_NAMES.index(claim.cue)
    whole, first, second = (zs[k, i] * claim.direction for k in range(3))
    ok = lambda v: bool(np.isfinite(v) and v >= HOLD_Z)  # noqa: E731
    if claim.span == "throughout":
        return ok(whole) and ok(first) and ok(second)
    if claim.span == "first_half":
        return ok(first) and not (np.isfinite(second) and second >= first)
    if claim.span == "second_half":
        return ok(second) and not (np.isfinite(first) and first >= second)
    return ok(whole)


def _clashes(parsed: ParsedExplanation, label: str, zs: np.ndarray) -> tuple[list[str], int]:
    """Silent clashes with the label's signature, and supporting cues named as contrary."""
    clashes, odd = [], 0
    for claim, contrary in zip(parsed.claims, parsed.contrary):
        bearing = relation(label, claim.cue, claim.direction)
        if bearing == AGAINST and not contrary:
            clashes.append(f"gives {claim.cue} {claim.direction:+d} as a reason for {label!r}")
        odd += int(bearing == SUPPORTS and contrary)
    reasons = any(relation(label, c.cue, c.direction) == SUPPORTS and not k
                  for c, k in zip(parsed.claims, parsed.contrary))
    reasons = reasons or (label == "normal" and (parsed.no_cue or parsed.rest_usual))
    claimed = {(c.cue, c.direction) for c in parsed.claims}
    for general in parsed.background:
        if general.style != label:
            continue  # a statement about another emotion is a contradiction (check_explanation)
        for cue, direction in general.mentions:
            if relation(label, cue, direction) == AGAINST:
                clashes.append(f"general statement names {cue} {direction:+d}, against the "
                               f"signature of {label!r}")
            elif not general.not_here and ((cue, -direction) in claimed or np.nan_to_num(
                    zs[0, CUE_NAMES.index(cue)]) * direction <= -(SALIENT_Z + HOLD_Z)):
                clashes.append(f"general statement names {cue} {direction:+d}, the movement "
                               f"shows the opposite")
        if general.fits and not reasons:
            clashes.append("general statement says the movement fits, no reason given")
    return clashes, odd


def _held(parsed: ParsedExplanation, label: str, zs: np.ndarray) -> int:
    """Claims the cues support, the sentences that claim an absence included."""
    whole = np.nan_to_num(zs[0])
    quiet = SALIENT_Z + HOLD_Z  # "nothing stands out": no cue reaches this
    held = sum(claim_holds(c, zs) for c in parsed.claims)
    held += int(parsed.no_cue and np.abs(whole).max(initial=0.0) < quiet)
    if parsed.rest_usual:
        claimed = {CUE_NAMES.index(c.cue) for c in parsed.claims}
        rest = [abs(whole[i]) for i in range(len(CUE_NAMES)) if i not in claimed]
        held += int(max(rest, default=0.0) < quiet)
    for style in parsed.little_of:  # no cue of the signature departs clearly its way
        held += int(all(whole[CUE_NAMES.index(c)] * d < quiet
                        for c, d in SIGNATURES[style].items()))
    return held


def check_explanation(text: str, label: str, z: np.ndarray,
                      reading: Optional[str] = None) -> CheckResult:
    """Check every movement claim against z ((7,) window or (3, 7) window and halves); flag
    label contradictions, silent clashes with the signature and degenerate text.

    `reading`: the explainer's own reading; when given, the answer must offer it as the second
    reading exactly when it differs from `label`.
    """
    if label not in EMOTION_WORDS:
        raise ValueError(f"unknown emotion style {label!r}; expected one of {EMOTION_STYLES}")
    zs = span_z(z)
    parsed = parse_explanation(text)
    degenerate = degenerate_reasons(text)
    if parsed.label is None and "empty" not in degenerate:
        degenerate.append("format")
    contradictions = []
    if parsed.label is not None and parsed.label != label:
        contradictions.append(f"states {parsed.label!r}, explains {label!r}")
    cues: dict[str, int] = {}
    for claim in parsed.claims:
        if cues.setdefault(claim.cue, claim.direction) != claim.direction:
            contradictions.append(f"claims both directions of {claim.cue}")
    for style in parsed.person_emotions + parsed.other_nouns + parsed.little_of:
        if style != label:
            contradictions.append(f"calls the person {EMOTION_WORDS[style]!r}, explains "
                                  f"{label!r}")
    for general in parsed.background:
        if general.style is not None and general.style != label:
            contradictions.append(f"general statement about {general.style!r}, explains "
                                  f"{label!r}")
    if parsed.alternative == label:
        contradictions.append(f"offers {label!r} as the other reading of itself")
    elif reading is not None and parsed.alternative != (reading if reading != label else None):
        contradictions.append(f"second reading {parsed.alternative!r}, the explainer read "
                              f"{reading!r}")
    clashes, odd = _clashes(parsed, label, zs)
    # An unverifiable statement about the person counts as a claim that does not hold.
    claims = (len(parsed.claims) + len(parsed.unparsed) + int(parsed.no_cue)
              + int(parsed.rest_usual) + len(parsed.little_of))
    return CheckResult(claims=claims, held=_held(parsed, label, zs),
                       contradictions=contradictions, degenerate=degenerate,
                       unparsed=len(parsed.unparsed), stated_label=parsed.label,
                       clashes=clashes, contrary_supporting=odd, alternative=parsed.alternative)


def summarise_checks(results: Sequence[CheckResult]) -> dict:
    """Aggregate: share of claims that hold, contradiction, clash and degenerate counts."""
    n = len(results)
    claims = sum(r.claims for r in results)
    held = sum(r.held for r in results)
    kinds = ("empty", "repetition", "cut", "format")
    return {
        "explanations": n,
        "claims": claims,
        "faithfulness": held / claims if claims else None,  # no claim: nothing to judge
        "contradiction_rate": sum(bool(r.contradictions) for r in results) / n if n else 0.0,
        "label_cue_clashes": sum(len(r.clashes) for r in results),
        "answers_with_clash": sum(bool(r.clashes) for r in results),
        "contrary_supporting": sum(r.contrary_supporting for r in results),
        "degenerate_rate": sum(bool(r.degenerate) for r in results) / n if n else 0.0,
        "degenerate": {k: sum(k in r.degenerate for r in results) for k in kinds},
        "unverifiable": sum(r.unparsed for r in results),
        "claims_per_explanation": claims / n if n else 0.0,
    }
