"""Grounded explanation text: cue phrases, answer templates, the template baseline and the checker.

Every movement claim an explanation may make is one of fourteen phrases, one per kinematic cue and
direction (`CUE_PHRASES`). A claim is about a cue's z-score against neutral motion
(`CueReference`): the training targets, the template baseline and the faithfulness checker all
share these tables, so a claim the checker accepts is one the measured cues support.

Answer format (parseable): `Emotion: <word>. <claims about this person>. <general statement>.`
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from emotion_node.model.labels import ALL_STYLES, EMOTION_STYLES, hri_label
from emotion_node.skeleton.cues import CUE_NAMES

SALIENT_Z = 1.0   # |z| at or above which a cue becomes a claim in targets and the template
HOLD_Z = 0.5      # a claim holds when the cue's z-score is at least this far in its direction
MAX_CLAIMS = 2    # claims per answer: keeps answers short enough for the token budget

# Text name of each emotion style (dataset `normal` reads as "neutral").
EMOTION_WORDS: dict[str, str] = {
    "normal": "neutral", "happy": "happy", "sad": "sad", "angry": "angry", "proud": "proud",
    "not-confident": "not confident", "tired": "tired",
}
_WORD_TO_STYLE = {w: s for s, w in EMOTION_WORDS.items()}

# (cue, direction) -> the phrase the person's claim sentence uses; direction +1 = above neutral.
# head_pitch is positive when the head tilts forward/down (see emotion_node.skeleton.cues).
CUE_PHRASES: dict[tuple[str, int], str] = {
    ("speed", 1): "moves faster than usual",
    ("speed", -1): "moves more slowly than usual",
    ("arm_swing", 1): "swings the arms widely",
    ("arm_swing", -1): "keeps the arms still",
    ("head_pitch", 1): "keeps the head lowered",
    ("head_pitch", -1): "holds the head up",
    ("expansion", 1): "holds the arms away from the body",
    ("expansion", -1): "keeps the arms close to the body",
    ("jerkiness", 1): "moves in abrupt, jerky bursts",
    ("jerkiness", -1): "moves smoothly",
    ("bounce", 1): "bounces up and down",
    ("bounce", -1): "barely rises and falls",
    ("tempo", 1): "keeps a quick rhythm",
    ("tempo", -1): "keeps a slow rhythm",
}
# (cue, direction) -> the few words the prompt's measurement hint uses for it.
HINT_WORDS: dict[tuple[str, int], str] = {
    ("speed", 1): "faster", ("speed", -1): "slower",
    ("arm_swing", 1): "wide arm swing", ("arm_swing", -1): "still arms",
    ("head_pitch", 1): "head lowered", ("head_pitch", -1): "head up",
    ("expansion", 1): "arms away from body", ("expansion", -1): "arms close to body",
    ("jerkiness", 1): "jerky", ("jerkiness", -1): "smooth",
    ("bounce", 1): "bouncing", ("bounce", -1): "little rise and fall",
    ("tempo", 1): "quick rhythm", ("tempo", -1): "slow rhythm",
}
# Parser lexicon: the phrases above plus close paraphrases, most specific first.
_CLAIM_PATTERNS: tuple[tuple[str, int, str], ...] = (
    ("tempo", 1, r"quick rhythm|fast rhythm|brisk rhythm|quick steps"),
    ("tempo", -1, r"slow rhythm|slow steps"),
    ("speed", 1, r"faster than usual|moves fast|moves quickly|hurr(?:y|ies|ied)"),
    ("speed", -1, r"more slowly than usual|slower than usual|moves slowly"),
    ("arm_swing", 1, r"swings? (?:the|their|its) arms widely|large arm swing"),
    ("arm_swing", -1, r"(?:keeps?|holds?) (?:the|their|its) arms still|little arm swing"),
    ("head_pitch", 1, r"head (?:is )?(?:lowered|down|bowed|hanging)|looks down"),
    ("head_pitch", -1, r"head (?:is )?(?:up|high|raised)|looks up"),
    ("expansion", 1, r"arms away from the body|open posture|takes up space"),
    ("expansion", -1, r"arms close to the body|closed posture"),
    ("jerkiness", 1, r"abrupt|jerky"),
    ("jerkiness", -1, r"smooth(?:ly)?"),
    ("bounce", 1, r"bounc(?:es|ing|y)"),
    ("bounce", -1, r"barely rises and falls|little bounce"),
)
# Exact phrases first (whole phrase consumed), then the paraphrases.
_COMPILED = tuple((c, d, re.compile(rf"\b(?:{p})\b")) for c, d, p in (
    [(c, d, re.escape(text)) for (c, d), text in CUE_PHRASES.items()] + list(_CLAIM_PATTERNS)))
# Words a claim sentence may hold besides cue phrases without saying anything more.
_FILLER = frozenset(
    "the person this they their his her its he she is are and also while keeps holds moves "
    "a an with in".split())
NO_CUE_SENTENCE = "No movement cue stands out from the usual."

# General statements (background knowledge, not claims about this person), after the gait and
# body-expression literature (Montepare et al. 1987; Roether et al. 2009; Wallbott 1998).
BACKGROUND: dict[str, str] = {
    "normal": "A neutral mood usually shows as relaxed, even movement.",
    "happy": "Happiness often shows as lively, bouncy movement.",
    "sad": "Sadness often shows as slow movement with a lowered head.",
    "angry": "Anger often shows as heavy, forceful, abrupt movement.",
    "proud": "Pride often shows as an upright, open posture.",
    "not-confident": "Low confidence often shows as a small, closed, hesitant posture.",
    "tired": "Tiredness often shows as slow, heavy movement.",
}
_BACKGROUND_STYLE = {
    "a neutral mood": "normal", "happiness": "happy", "sadness": "sad", "anger": "angry",
    "pride": "proud", "low confidence": "not-confident", "tiredness": "tired"}
# A general statement opens with an emotion noun (or a general subject): never about this person.
_BACKGROUND_OPENERS = re.compile(
    r"^(?:" + "|".join([*_BACKGROUND_STYLE, "people", "in general", "typically"]) + r")\b")

# The fifteen dataset styles as descriptions (stage-1 captions).
STYLE_DESCRIPTIONS: dict[str, str] = {
    "normal": "an ordinary, neutral way of moving",
    "happy": "a happy, cheerful way of moving",
    "sad": "a sad, dejected way of moving",
    "angry": "an angry, aggressive way of moving",
    "proud": "a proud, self-assured way of moving",
    "not-confident": "an unsure, timid way of moving",
    "tired": "a tired, exhausted way of moving",
    "active": "an energetic, sporty way of moving",
    "childish": "a playful, childlike way of moving",
    "chimpira": "a swaggering, thuggish way of moving",
    "feminine": "a graceful, feminine way of moving",
    "giant": "a heavy, lumbering way of moving, like a giant",
    "masculinity": "a broad, masculine way of moving",
    "musical": "a theatrical way of moving, like in a musical",
    "old": "a frail, elderly way of moving",
}
assert set(STYLE_DESCRIPTIONS) == set(ALL_STYLES)


@dataclass
class CueReference:
    """Neutral-motion statistics that turn raw cues into z-scores (per content, or global)."""

    global_mean: list[float]
    scale: list[float]
    content_means: dict[str, list[float]] = field(default_factory=dict)
    names: tuple[str, ...] = CUE_NAMES

    def zscores(self, cues: Mapping[str, float] | Sequence[float],
                content: Optional[str] = None) -> np.ndarray:
        """(7,) z-scores in `names` order; the content's neutral mean when known, else global."""
        if isinstance(cues, Mapping):
            missing = [n for n in self.names if n not in cues]
            if missing:
                raise ValueError(f"cues lack {missing}")
            cues = [cues[n] for n in self.names]
        values = np.asarray(cues, dtype=np.float64)
        if values.shape != (len(self.names),):
            raise ValueError(f"expected {len(self.names)} cues, got shape {values.shape}")
        known = self.content_means.get(content) if content is not None else None
        mean = np.asarray(known if known is not None else self.global_mean, dtype=np.float64)
        mean = np.where(np.isfinite(mean), mean, np.asarray(self.global_mean))
        return (values - mean) / np.asarray(self.scale)  # nan stays nan: never a claim

    @classmethod
    def fit(cls, window_cues: np.ndarray, window_contents: Sequence[str] | np.ndarray,
            window_styles: Sequence[str] | np.ndarray, neutral: str = "normal"
            ) -> "CueReference":
        """Fit from (N, 7) window cues: neutral mean per content, robust pooled spread."""
        cues = np.asarray(window_cues, dtype=np.float64)
        contents, styles = np.asarray(window_contents), np.asarray(window_styles)
        means: dict[str, np.ndarray] = {}
        for content in sorted(set(contents[styles == neutral].tolist())):
            with warnings.catch_warnings():  # a cue nan in every window stays nan
                warnings.simplefilter("ignore", RuntimeWarning)
                means[content] = np.nanmean(cues[(contents == content) & (styles == neutral)], 0)
        if not means:
            raise ValueError(f"no windows of the neutral style {neutral!r} to fit a reference")
        # Global reference: median over contents, so no single action dominates.
        global_mean = np.nanmedian(np.stack(list(means.values())), axis=0)
        emotion = np.isin(styles, EMOTION_STYLES) & np.isin(contents, list(means))
        dev = np.stack([cues[i] - means[contents[i]] for i in np.where(emotion)[0]])  # (M, 7)
        mad = np.nanmedian(np.abs(dev - np.nanmedian(dev, 0)), 0) * 1.4826
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


def to_style(label: str) -> str:
    """Dataset style of a label given as style, ROS-facing hri label or emotion word."""
    if label in EMOTION_WORDS:
        return label
    for style in EMOTION_STYLES:
        if label in (hri_label(style), EMOTION_WORDS[style]):
            return style
    raise ValueError(f"unknown emotion label {label!r}; expected one of {EMOTION_STYLES}")


def salient_cues(z: np.ndarray, threshold: float = SALIENT_Z,
                 max_claims: int = MAX_CLAIMS) -> list[tuple[str, int]]:
    """The strongest cues with |z| >= threshold as (cue, direction), strongest first."""
    z = np.nan_to_num(np.asarray(z, dtype=np.float64), nan=0.0)
    order = np.argsort(-np.abs(z), kind="stable")
    return [(CUE_NAMES[i], 1 if z[i] > 0 else -1) for i in order[:max_claims]
            if abs(z[i]) >= threshold]


def hint_text(salient: Sequence[tuple[str, int]]) -> str:
    """Short measurement hint for the prompt, e.g. `slower, head lowered` (`none` if empty)."""
    if not salient:
        return "none"
    return ", ".join(HINT_WORDS[c] for c in salient)


def claims_sentence(salient: Sequence[tuple[str, int]]) -> str:
    """One sentence about this person built from the claim phrases."""
    if not salient:
        return NO_CUE_SENTENCE
    phrases = [CUE_PHRASES[c] for c in salient]
    joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"The person {joined}."


def answer_text(style: str, salient: Sequence[tuple[str, int]], background: bool = True) -> str:
    """Target answer: `Emotion: <word>. <claims>. <general statement>.`"""
    if style not in EMOTION_WORDS:
        raise ValueError(f"unknown emotion style {style!r}; expected one of {EMOTION_STYLES}")
    parts = [f"Emotion: {EMOTION_WORDS[style]}.", claims_sentence(salient)]
    if background:
        parts.append(BACKGROUND[style])
    return " ".join(parts)


def description_text(style: str, salient: Sequence[tuple[str, int]]) -> str:
    """Stage-1 caption: the style as a description plus the movement claims."""
    if style not in STYLE_DESCRIPTIONS:
        raise ValueError(f"unknown style {style!r}; expected one of {ALL_STYLES}")
    return f"This looks like {STYLE_DESCRIPTIONS[style]}. {claims_sentence(salient)}"


def template_explanation(style: str, z: np.ndarray) -> str:
    """Baseline without any LLM: the measured salient cues filled into the answer template."""
    return answer_text(style, salient_cues(z))


@dataclass
class ParsedExplanation:
    """What the parser found in one explanation."""

    label: Optional[str]                       # dataset style named after `Emotion:`, if any
    claims: list[tuple[str, int]]              # movement claims about this person
    background: list[str]                      # general statements
    unparsed: list[str]                        # person-sentence words no cue phrase explains
    no_cue: bool = False                       # the "nothing stands out" sentence was used
    person_emotions: list[str] = field(default_factory=list)  # emotion words about the person


def _sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation, keeping non-empty pieces."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def parse_explanation(text: str) -> ParsedExplanation:
    """Find the stated label, the movement claims and the general statements of one answer."""
    parsed = ParsedExplanation(label=None, claims=[], background=[], unparsed=[])
    body = text.strip()
    head = re.match(r"^emotion:\s*([a-z -]+?)\s*[.,;\n]", body, flags=re.IGNORECASE)
    if head:
        parsed.label = _WORD_TO_STYLE.get(head.group(1).lower().strip(), head.group(1).lower())
        body = body[head.end():]
    for sentence in _sentences(body):
        low = sentence.lower()
        if _BACKGROUND_OPENERS.match(low):
            parsed.background.append(sentence)
            continue
        parsed.person_emotions += [w for w in _WORD_TO_STYLE if re.search(rf"\b{w}\b", low)]
        if low.rstrip(".") == NO_CUE_SENTENCE.lower().rstrip("."):
            parsed.no_cue = True
            continue
        found = []
        for cue, direction, pattern in _COMPILED:
            match = pattern.search(low)
            if match:
                found.append((match.start(), (cue, direction)))
                # Consume (same length keeps positions), so "slow rhythm" is not also "slowly".
                low = pattern.sub(lambda m: " " * len(m.group()), low)
        parsed.claims.extend(claim for _, claim in sorted(found))  # in the order written
        rest = [w for w in re.findall(r"[a-z']+", low) if w not in _FILLER]
        if rest:  # words about the person that no cue phrase accounts for
            parsed.unparsed.append(" ".join(rest))
    return parsed


@dataclass
class CheckResult:
    """Faithfulness verdict of one explanation against its window's cue z-scores."""

    claims: int                 # movement claims found (unverifiable ones included)
    held: int                   # claims the measured cues support
    contradictions: list[str]   # reasons the text disagrees with the label it explains
    degenerate: list[str]       # "empty", "repetition", "cut", "format"
    unparsed: int               # unverifiable statements about the person (count as claims)
    stated_label: Optional[str]


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


def _holds(claim: tuple[str, int], z: np.ndarray) -> bool:
    """True when the cue's z-score lies at least HOLD_Z in the claimed direction."""
    value = z[CUE_NAMES.index(claim[0])]
    return bool(np.isfinite(value) and value * claim[1] >= HOLD_Z)


def check_explanation(text: str, label: str, z: np.ndarray) -> CheckResult:
    """Check every movement claim against z; flag label contradictions and degenerate text."""
    if label not in EMOTION_WORDS:
        raise ValueError(f"unknown emotion style {label!r}; expected one of {EMOTION_STYLES}")
    z = np.asarray(z, dtype=np.float64)
    parsed = parse_explanation(text)
    degenerate = degenerate_reasons(text)
    if parsed.label is None and "empty" not in degenerate:
        degenerate.append("format")
    held = sum(_holds(c, z) for c in parsed.claims)
    if parsed.no_cue:  # "nothing stands out" is itself a claim: no strong cue may exist
        held += int(np.nan_to_num(np.abs(z)).max(initial=0.0) < SALIENT_Z + HOLD_Z)
    contradictions = []
    if parsed.label is not None and parsed.label != label:
        contradictions.append(f"states {parsed.label!r}, explains {label!r}")
    cues: dict[str, int] = {}
    for cue, direction in parsed.claims:
        if cues.setdefault(cue, direction) != direction:
            contradictions.append(f"claims both directions of {cue}")
    for word in parsed.person_emotions:
        if _WORD_TO_STYLE[word] != label:
            contradictions.append(f"calls the person {word!r}, explains {label!r}")
    for sentence in parsed.background:
        opened = _BACKGROUND_OPENERS.match(sentence.lower())
        other = _BACKGROUND_STYLE.get(opened.group(0)) if opened else None
        if other is not None and other != label:
            contradictions.append(f"general statement about {other!r}, explains {label!r}")
    # An unverifiable statement about the person counts as a claim that does not hold.
    claims = len(parsed.claims) + len(parsed.unparsed) + int(parsed.no_cue)
    return CheckResult(claims=claims, held=held,
                       contradictions=contradictions, degenerate=degenerate,
                       unparsed=len(parsed.unparsed), stated_label=parsed.label)


def summarise_checks(results: Sequence[CheckResult]) -> dict:
    """Aggregate: share of claims that hold, contradiction and degenerate rates."""
    n = len(results)
    claims = sum(r.claims for r in results)
    held = sum(r.held for r in results)
    kinds = ("empty", "repetition", "cut", "format")
    return {
        "explanations": n,
        "claims": claims,
        "faithfulness": held / claims if claims else None,  # no claim: nothing to judge
        "contradiction_rate": sum(bool(r.contradictions) for r in results) / n if n else 0.0,
        "degenerate_rate": sum(bool(r.degenerate) for r in results) / n if n else 0.0,
        "degenerate": {k: sum(k in r.degenerate for r in results) for k in kinds},
        "unverifiable": sum(r.unparsed for r in results),
        "claims_per_explanation": claims / n if n else 0.0,
    }
