"""The words explanations are made of: several phrasings per cue, time span, connective and
general statement, and the composer that builds a coherent answer from measured claims.

A claim is one cue departing from neutral motion in one direction over one span of the window
(`Claim`). Each (cue, direction) has several phrasings naming the body part the cue measures
(`CUE_WORDINGS`); a span phrase says when (`SPAN_WORDS`). An answer states the claims that
support its label as reasons, strongest first, names a claim against the label's signature as
contrary ("although ..."), and ends with a general statement about the emotion whose frame says
whether this movement fits it. Every piece is parsed back by the checker
(`emotion_node.model.explanations`), so each composed claim can be verified against the cues.

Answer: `Emotion: <word>. <reasons>. [<contrary>.] <general statement>. [<second reading>.]`
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import numpy as np

from emotion_node.model.signatures import AGAINST, SUPPORTS, SIGNATURES, relation
from emotion_node.skeleton.cues import CUE_NAMES, SPAN_STABLE_CUES
from emotion_node.skeleton.dataset import DATASETS

SALIENT_Z = 1.0   # |z| at or above which a cue becomes a claim in targets and the template
HOLD_Z = 0.5      # a claim holds when the cue's z-score is at least this far in its direction
MAX_HINTED = 4    # salient cues a recognise prompt's hint lists, strongest first
MAX_REASONS = 2   # supporting claims an answer states (and an explain prompt's hint lists)
MAX_AGAINST = 3   # contrary claims an explain prompt's hint lists
MAX_CONTRARY = 1  # contrary claims an answer states (two for a neutral label)

# How a claim's time span reads: the whole window, sustained over both halves, or one half.
SPANS = ("window", "throughout", "first_half", "second_half")

# Text name of each emotion style (dataset `normal` reads as "neutral"), and its noun.
EMOTION_WORDS: dict[str, str] = {
    "normal": "neutral", "happy": "happy", "sad": "sad", "angry": "angry", "proud": "proud",
    "not-confident": "not confident", "tired": "tired",
}
EMOTION_NOUNS: dict[str, str] = {
    "normal": "a neutral mood", "happy": "happiness", "sad": "sadness", "angry": "anger",
    "proud": "pride", "not-confident": "low confidence", "tired": "tiredness",
}


class Claim(NamedTuple):
    """One movement claim: a cue, its direction against neutral (+1 above), and its span."""

    cue: str
    direction: int
    span: str = "window"


# (cue, direction) -> phrasings, each naming the body part the cue measures (the body as a whole
# for speed, the hands for jerkiness, the hips for bounce and rhythm). Verb phrases take the
# subject "the person"; the others have their own.
PERSON = "the person "
CUE_WORDINGS: dict[tuple[str, int], tuple[str, ...]] = {
    ("speed", 1): ("the body moves faster than usual", "the body travels faster than usual",
                   "moves the whole body faster than usual",
                   "the pace of the body is quicker than usual",
                   "moves at a brisker pace than usual", "gets around faster than usual"),
    ("speed", -1): ("the body moves more slowly than usual",
                    "the body travels more slowly than usual",
                    "moves the whole body more slowly than usual",
                    "the pace of the body is slower than usual",
                    "moves at a gentler pace than usual", "gets around more slowly than usual"),
    ("arm_swing", 1): ("swings the arms widely", "the arms swing widely",
                       "the arms move through wide arcs",
                       "the hands travel far from their resting place",
                       "the arms swing in large arcs", "swings the arms far forward and back"),
    ("arm_swing", -1): ("keeps the arms still", "the arms hardly swing", "the arms stay still",
                        "the hands stay close to their resting place",
                        "lets the arms hang without swinging", "the arms barely move"),
    ("head_pitch", 1): ("keeps the head lowered", "the head hangs forward", "the head is bowed",
                        "keeps the chin down",
                        "the head tips downward", "holds the head low"),
    ("head_pitch", -1): ("holds the head up", "the head is held high", "keeps the chin up",
                         "the head stays raised",
                         "the chin is lifted", "carries the head high"),
    ("expansion", 1): ("holds the arms away from the body",
                       "the elbows and hands stay away from the torso",
                       "the arms spread out from the body", "takes up space with the arms",
                       "the arms reach out wide", "keeps the elbows out from the sides"),
    ("expansion", -1): ("keeps the arms close to the body", "the elbows stay tucked in",
                        "the arms stay close to the torso", "holds the arms in",
                        "keeps the elbows at the sides", "the arms stay drawn in"),
    ("jerkiness", 1): ("moves the hands in abrupt, jerky bursts",
                       "the hands move in abrupt, jerky bursts", "the hands jerk abruptly",
                       "the wrists change direction abruptly",
                       "the hands start and stop sharply", "moves the hands in sudden jolts"),
    ("jerkiness", -1): ("moves the hands smoothly", "the hands move smoothly",
                        "the hand movements are smooth and even", "the wrists glide smoothly",
                        "the hands move fluidly", "moves the wrists in fluid, even paths"),
    ("bounce", 1): ("the hips bounce up and down", "the body bobs up and down",
                    "the pelvis rises and falls strongly", "bobs up and down at the hips",
                    "the hips go up and down strongly",
                    "there is a strong up-and-down motion in the hips"),
    ("bounce", -1): ("the hips barely rise and fall", "keeps the hips level",
                     "the body stays level", "there is little up-and-down movement in the hips",
                     "the hips hardly go up and down", "the pelvis stays level"),
    ("tempo", 1): ("moves the hips in a quick rhythm", "the hips move to a quick beat",
                   "the rhythm of the body is quick",
                   "moves to a quick beat", "the hips keep a brisk rhythm"),
    ("tempo", -1): ("moves the hips in a slow rhythm", "the hips move to a slow beat",
                    "the rhythm of the body is slow",
                    "moves to a slow beat", "the hips keep an unhurried rhythm"),
}
assert set(CUE_WORDINGS) == {(c, d) for c in CUE_NAMES for d in (1, -1)}
# The first answer template's fixed phrases (the plain template baseline; the parser knows them).
CUE_PHRASES: dict[tuple[str, int], str] = {
    ("speed", 1): "moves faster than usual", ("speed", -1): "moves more slowly than usual",
    ("arm_swing", 1): "swings the arms widely", ("arm_swing", -1): "keeps the arms still",
    ("head_pitch", 1): "keeps the head lowered", ("head_pitch", -1): "holds the head up",
    ("expansion", 1): "holds the arms away from the body",
    ("expansion", -1): "keeps the arms close to the body",
    ("jerkiness", 1): "moves in abrupt, jerky bursts", ("jerkiness", -1): "moves smoothly",
    ("bounce", 1): "bounces up and down", ("bounce", -1): "barely rises and falls",
    ("tempo", 1): "keeps a quick rhythm", ("tempo", -1): "keeps a slow rhythm",
}
# (cue, direction) -> the few words a prompt's hint uses for it.
HINT_WORDS: dict[tuple[str, int], str] = {
    ("speed", 1): "faster", ("speed", -1): "slower",
    ("arm_swing", 1): "wide arm swing", ("arm_swing", -1): "still arms",
    ("head_pitch", 1): "head lowered", ("head_pitch", -1): "head up",
    ("expansion", 1): "arms away from body", ("expansion", -1): "arms close to body",
    ("jerkiness", 1): "jerky", ("jerkiness", -1): "smooth",
    ("bounce", 1): "bouncing", ("bounce", -1): "little rise and fall",
    ("tempo", 1): "quick rhythm", ("tempo", -1): "slow rhythm",
}
# Span -> the hint's word, and the phrases an answer may append to the claim it qualifies.
SPAN_HINTS = {"window": "", "throughout": "throughout", "first_half": "at first",
              "second_half": "at the end"}
SPAN_WORDS: dict[str, tuple[str, ...]] = {
    "window": ("", "", "over this stretch", "in this window", "during this stretch",
               "in these seconds"),
    "throughout": ("throughout", "the whole time", "from start to end", "all along",
                   "from beginning to end", "for the whole stretch"),
    "first_half": ("at first", "early on", "in the first half", "at the start",
                   "in the early part"),
    "second_half": ("towards the end", "later on", "in the second half", "near the end",
                    "in the later part"),
}

# Sentences that are claims of their own (the checker verifies each).
NO_CUE_SENTENCES = ("No movement cue stands out from the usual.",
                    "Nothing in the movement stands out from the usual.",
                    "The movement stays close to the usual.",
                    "None of the measured cues departs from the usual.")
NO_CUE_SENTENCE = NO_CUE_SENTENCES[0]
LITTLE_OF = ("The movement shows little of {noun}.", "Little in the movement points to {noun}.",
             "The measured cues show little of {noun}.")
REASON_OPENERS = ("", "", "Above all, ", "Most clearly, ", "Mainly, ", "Chiefly, ",
                  "In particular, ")
# Contrary sentences: `{c}` is the contrary claims as clauses.
CONTRARY_WITH_REASONS = ("Although {c}, the rest fits.", "{C}, though, which does not fit.",
                         "One cue points the other way: {c}.",
                         "Only one cue runs against it: {c}.")
CONTRARY_ALONE = ("{C}, which runs against {noun}.", "One cue points the other way: {c}.",
                  "{C}, which does not fit {noun}.", "{C}, and that does not fit {noun}.")
CONTRARY_NEUTRAL_REST = ("Although {c}, nothing else stands out from the usual.",
                         "Apart from how {c}, nothing else stands out from the usual.")
CONTRARY_NEUTRAL = ("{C}, which runs against {noun}.", "{C}, which does not fit {noun}.")
ALTERNATIVES = ("The movement could also be read as {word}.", "It could also be read as {word}.",
                "Another reading of this movement would be {word}.",
                "The same movement might also be read as {word}.")

# General statements: predicates per emotion with the (cue, direction) each one mentions (all
# within the emotion's signature), and frames that say how this movement relates to them.
GENERAL: dict[str, tuple[tuple[str, tuple[tuple[str, int], ...]], ...]] = {
    "normal": (("relaxed, even movement", ()),
               ("movement close to one's usual way", ()),
               ("steady movement without strong departures", ())),
    "happy": (("lively, bouncy movement", (("bounce", 1),)),
              ("quick movement with wide arm swings", (("speed", 1), ("arm_swing", 1))),
              ("open, bouncing movement", (("expansion", 1), ("bounce", 1))),
              ("a quick rhythm and an open posture", (("tempo", 1), ("expansion", 1)))),
    "sad": (("slow movement with a lowered head", (("speed", -1), ("head_pitch", 1))),
            ("a lowered head and little arm swing", (("head_pitch", 1), ("arm_swing", -1))),
            ("slow, smooth movement and a closed posture",
             (("speed", -1), ("jerkiness", -1), ("expansion", -1))),
            ("a bowed head and a slow rhythm", (("head_pitch", 1), ("tempo", -1)))),
    "angry": (("heavy, forceful, abrupt movement", (("jerkiness", 1),)),
              ("fast, abrupt movement with wide arm swings",
               (("speed", 1), ("jerkiness", 1), ("arm_swing", 1))),
              ("forceful movement that takes up space", (("expansion", 1),))),
    "proud": (("an upright, open posture", (("expansion", 1),)),
              ("a raised head and an open posture", (("head_pitch", -1), ("expansion", 1))),
              ("a head held high and arms held away from the body",
               (("head_pitch", -1), ("expansion", 1)))),
    "not-confident": (("a small, closed, hesitant posture", (("expansion", -1),)),
                      ("a lowered head and arms kept close to the body",
                       (("head_pitch", 1), ("expansion", -1))),
                      ("slow, hesitant movement with a bowed head",
                       (("speed", -1), ("head_pitch", 1)))),
    "tired": (("slow, heavy movement", (("speed", -1),)),
              ("slow movement with little arm swing", (("speed", -1), ("arm_swing", -1))),
              ("a lowered head and a slow rhythm", (("head_pitch", 1), ("tempo", -1))),
              ("slow, smooth movement that barely rises and falls",
               (("speed", -1), ("jerkiness", -1), ("bounce", -1)))),
}
assert all(relation(s, c, d) == SUPPORTS for s, preds in GENERAL.items() if s != "normal"
           for _, mentions in preds for c, d in mentions)
GENERAL_PLAIN = ("{Noun} often shows as {p}.", "{Noun} usually shows as {p}.",
                 "{Noun} typically comes with {p}.", "{Noun} tends to show as {p}.")
GENERAL_FIT = ("This fits {noun}, which often shows as {p}.",
               "That matches {noun}, which usually shows as {p}.",
               "This fits {noun}, which typically comes with {p}.")
GENERAL_PARTLY = ("{Noun} typically comes with {p}, which this movement only partly shows.",
                  "{Noun} usually shows as {p}; this movement shows only part of that.",
                  "{Noun} often shows as {p}, but this movement shows only some of it.")
GENERAL_NOT_HERE = ("{Noun} usually shows as {p}, but that is not what this movement shows.",
                    "{Noun} typically comes with {p}, but this movement shows little of that.",
                    "{Noun} tends to show as {p}, which is not what this movement shows.")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# The plain template's general statement per emotion (the first predicate of each).
BACKGROUND: dict[str, str] = {
    "normal": "A neutral mood usually shows as relaxed, even movement.",
    "happy": "Happiness often shows as lively, bouncy movement.",
    "sad": "Sadness often shows as slow movement with a lowered head.",
    "angry": "Anger often shows as heavy, forceful, abrupt movement.",
    "proud": "Pride often shows as an upright, open posture.",
    "not-confident": "Low confidence often shows as a small, closed, hesitant posture.",
    "tired": "Tiredness often shows as slow, heavy movement.",
}


def _pick(options: Sequence[str], rng: Optional[np.random.Generator]) -> str:
    """A random option, or the first one without a generator (the plain template)."""
    return options[0] if rng is None else options[int(rng.integers(len(options)))]


# ---- claims from measured z-scores ----------------------------------------------------------
def span_z(z: np.ndarray) -> np.ndarray:
    """(3, 7) z-scores of the window and its halves; a (7,) window-only array gets nan halves."""
    z = np.asarray(z, dtype=np.float64)
    if z.shape == (len(CUE_NAMES),):
        return np.concatenate([z[None], np.full((2, len(CUE_NAMES)), np.nan)])
    if z.shape != (3, len(CUE_NAMES)):
        raise ValueError(f"expected z-scores of shape (7,) or (3, 7), got {z.shape}")
    return z


def claim_span(zs: np.ndarray, cue: str, direction: int) -> str:
    """The span a salient cue's claim may name: both halves carry it, only one does, or the
    window as a whole (span-dependent cues, or halves that do not tell)."""
    i = CUE_NAMES.index(cue)
    first, second = zs[1, i] * direction, zs[2, i] * direction
    if cue not in SPAN_STABLE_CUES or not (np.isfinite(first) and np.isfinite(second)):
        return "window"
    if first >= HOLD_Z and second >= HOLD_Z:
        return "throughout"
    if first >= SALIENT_Z and second < HOLD_Z:
        return "first_half"
    if second >= SALIENT_Z and first < HOLD_Z:
        return "second_half"
    return "window"


def salient_claims(z: np.ndarray, max_claims: int = len(CUE_NAMES)) -> list[Claim]:
    """The strongest cues with |window z| >= SALIENT_Z as claims with spans, strongest first."""
    zs = span_z(z)
    whole = np.nan_to_num(zs[0], nan=0.0)
    order = np.argsort(-np.abs(whole), kind="stable")
    out = []
    for i in order[:max_claims]:
        if abs(whole[i]) >= SALIENT_Z:
            direction = 1 if whole[i] > 0 else -1
            out.append(Claim(CUE_NAMES[i], direction, claim_span(zs, CUE_NAMES[i], direction)))
    return out


def split_by_label(style: str, claims: Sequence[Claim]) -> tuple[list[Claim], list[Claim]]:
    """What an explanation of `style` may use of the salient claims (strongest first): the
    supporting ones it may give as reasons and the contrary ones it must mark, as many as an
    explain prompt's hint lists; cues the signature does not name are left out."""
    rel = [relation(style, c.cue, c.direction) for c in claims]
    return ([c for c, r in zip(claims, rel) if r == SUPPORTS][:MAX_REASONS],
            [c for c, r in zip(claims, rel) if r == AGAINST][:MAX_AGAINST])


# ---- hints ----------------------------------------------------------------------------------
def hint_words(claims: Sequence[Claim]) -> str:
    """`head lowered throughout, slower at first` (`none` when empty)."""
    if not claims:
        return "none"
    words = [f"{HINT_WORDS[(c.cue, c.direction)]} {SPAN_HINTS[c.span]}".strip() for c in claims]
    return ", ".join(words)


# ---- composing ------------------------------------------------------------------------------
def claim_clause(claim: Claim, rng: Optional[np.random.Generator], used: set[str]) -> str:
    """One claim as a clause with its subject and span phrase; a span phrase is used once per
    answer (`used` collects them), so 'over this stretch' never repeats."""
    text = _pick(CUE_WORDINGS[(claim.cue, claim.direction)], rng)
    clause = text if text.startswith(("the ", "there ")) else PERSON + text
    spans = [w for w in SPAN_WORDS[claim.span] if w not in used] or [""]
    span = _pick(spans, rng)
    used.add(span)
    used.discard("")
    return f"{clause} {span}".rstrip()


def join_claims(claims: Sequence[Claim], rng: Optional[np.random.Generator],
                used: Optional[set[str]] = None) -> str:
    """Claims as one clause list: 'the person moves slowly and keeps the head lowered'."""
    used = set() if used is None else used
    clauses = [claim_clause(c, rng, used) for c in claims]
    if len(clauses) == 1:
        return clauses[0]
    first, second = clauses[0], clauses[-1]
    both_person = first.startswith(PERSON) and second.startswith(PERSON)
    if both_person or rng is None or rng.random() < 0.6:
        if both_person:
            second = second[len(PERSON):]  # one subject for both
        return f"{first} and {second}"
    return f"{first}, while {second}"


def reasons_sentence(claims: Sequence[Claim], rng: Optional[np.random.Generator],
                     used: set[str]) -> str:
    """The supporting claims as one sentence, with an optional opener."""
    opener = _pick(REASON_OPENERS, rng)
    body = join_claims(claims, rng, used)
    return f"{opener}{body}." if opener else f"{_cap(body)}."


def contrary_sentence(style: str, claims: Sequence[Claim], has_reasons: bool,
                      rest_usual: bool, rng: Optional[np.random.Generator],
                      used: set[str]) -> str:
    """The claims against the label, marked as contrary."""
    frames: Sequence[str]
    if style == "normal":
        frames = CONTRARY_NEUTRAL_REST if rest_usual else CONTRARY_NEUTRAL
    else:
        frames = CONTRARY_WITH_REASONS if has_reasons else CONTRARY_ALONE
    joined = join_claims(claims, rng, used)
    return _pick(frames, rng).format(c=joined, C=_cap(joined), noun=EMOTION_NOUNS[style])


def general_predicates(style: str, named: Sequence[Claim] = ()) -> list[str]:
    """The predicates a general statement about `style` may use: those that name a cue the
    answer gave as a reason, where the emotion has such a predicate (the statement then
    generalises what was observed), else every one of the emotion's."""
    given = {(c.cue, c.direction) for c in named}
    matching = [p for p, mentions in GENERAL[style] if given & set(mentions)]
    return matching or [p for p, _ in GENERAL[style]]


def general_sentence(style: str, reasons: bool, contrary: bool,
                     rng: Optional[np.random.Generator], named: Sequence[Claim] = ()) -> str:
    """A general statement about the emotion, framed by how this movement relates to it: it
    fits (reasons, nothing against), it fits only partly (reasons and a contrary cue), it does
    not (a contrary cue, no reason), or it is only background (neither); its predicate names
    a cue of the reasons `named` where one can (`general_predicates`)."""
    predicate = _pick(general_predicates(style, named), rng)
    noun = EMOTION_NOUNS[style]
    frames: Sequence[str]
    if contrary:
        frames = GENERAL_PARTLY if reasons else GENERAL_NOT_HERE
    elif reasons and rng is not None and rng.random() < 0.5:
        frames = GENERAL_FIT
    else:
        frames = GENERAL_PLAIN
    return _pick(frames, rng).format(Noun=_cap(noun), noun=noun, p=predicate)


def compose_answer(style: str, support: Sequence[Claim], against: Sequence[Claim],
                   rng: Optional[np.random.Generator], reading: Optional[str] = None) -> str:
    """A coherent answer for `style` from what an explain prompt's hint lists (`split_by_label`
    of the salient claims): the reasons, one contrary cue (two for neutral), a general statement
    framed by them and, when `reading` differs, the second reading. Without `rng` every choice
    is the first one (deterministic)."""
    if style not in EMOTION_WORDS:
        raise ValueError(f"unknown emotion style {style!r}; expected one of {list(SIGNATURES)}")
    used: set[str] = set()
    parts = [f"Emotion: {EMOTION_WORDS[style]}."]
    if style == "normal":  # no reasons but the absence of (further) departures
        rest_usual = len(against) <= 2
        if against:
            parts.append(contrary_sentence(style, against[:2], False, rest_usual, rng, used))
        else:
            parts.append(_pick(NO_CUE_SENTENCES, rng))
        parts.append(general_sentence(style, rest_usual, bool(against), rng))
    else:
        if support:
            parts.append(reasons_sentence(support[:MAX_REASONS], rng, used))
        else:
            parts.append(_pick(LITTLE_OF, rng).format(noun=EMOTION_NOUNS[style]))
        if against:
            parts.append(contrary_sentence(style, against[:MAX_CONTRARY], bool(support), False,
                                           rng, used))
        parts.append(general_sentence(style, bool(support), bool(against), rng,
                                      support[:MAX_REASONS]))
    if reading is not None and reading != style:
        parts.append(_pick(ALTERNATIVES, rng).format(word=EMOTION_WORDS[reading]))
    return " ".join(parts)


def coherent_template(style: str, z: np.ndarray) -> str:
    """Baseline without any LLM: the composer's first choice everywhere on the measured cues."""
    return compose_answer(style, *split_by_label(style, salient_claims(z)), None)


def plain_claims_sentence(claims: Sequence[Claim]) -> str:
    """The plain template's claim sentence: fixed phrases, no spans, no coherence."""
    if not claims:
        return NO_CUE_SENTENCE
    phrases = [CUE_PHRASES[(c.cue, c.direction)] for c in claims]
    joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"The person {joined}."


# Every style of every dataset as a description (stage-1 captions); Dataset 2's normal, active
# and feminine read as Dataset 1's.
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
    "exhausted": "a tired, exhausted way of moving",
    "elderly": "a frail, elderly way of moving",
    "masculine": "a broad, masculine way of moving",
    "youthful": "a youthful, lively way of moving",
    "neutral": "an ordinary, neutral way of moving",  # Emotion-Gait's and a lab's normal
}


assert {s for d in DATASETS.values() for s in d.styles} == set(STYLE_DESCRIPTIONS)


def description_text(style: str, claims: Sequence[Claim],
                     rng: Optional[np.random.Generator] = None) -> str:
    """Stage-1 caption: the style as a description plus up to two movement claims."""
    if style not in STYLE_DESCRIPTIONS:
        raise ValueError(f"unknown style {style!r}; expected one of {list(STYLE_DESCRIPTIONS)}")
    body = f"{_cap(join_claims(claims[:MAX_REASONS], rng))}." if claims else \
        _pick(NO_CUE_SENTENCES, rng)
    return f"This looks like {STYLE_DESCRIPTIONS[style]}. {body}"
