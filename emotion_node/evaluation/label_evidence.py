"""Does an explanation carry its label's evidence? The label recovered from the text alone.

Every label word is removed from an answer (the `Emotion: <word>.` opening, each emotion word and
noun, so the second reading's word too), and the bundled sentence encoder (all-MiniLM-L6-v2,
`training.text_encoder`) compares what is left with each emotion's movement signature written
out in the template's cue phrases (`signatures.SIGNATURES`; neutral: three fixed sentences
saying nothing stands out). The label recovered is the signature nearest in meaning. A text
that names its label's cues reads as that label; "Emotion: sad." followed by filler does not.
The model is
fixed and ships with the package, so the figure compares kinds of answers (the LLM's, the
composer's, the plain template's) on the same windows, not across models.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np

from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.signatures import SIGNATURES
from emotion_node.model.wording import CUE_PHRASES, EMOTION_NOUNS, EMOTION_WORDS

# Label words, longest first ("a neutral mood" before "neutral").
_LABEL_WORDS = sorted({w for w in (*EMOTION_WORDS.values(), *EMOTION_NOUNS.values(),
                                   "neutral mood")},
                      key=len, reverse=True)
_LABEL_RE = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in _LABEL_WORDS) + r")\b",
                       re.IGNORECASE)
_OPENING = re.compile(r"^\s*emotion:[^.]*\.\s*", re.IGNORECASE)
# Neutral has no signature cue: its text is the answers' sentences that say nothing stands out,
# fixed here so the ruler stays the same when phrasings are added.
NEUTRAL_SIGNATURE = ("No movement cue stands out from the usual. Nothing in the movement stands "
                     "out from the usual. The movement stays close to the usual.")


def without_label_words(text: str) -> str:
    """The answer with its opening and every emotion word and noun removed."""
    body = _LABEL_RE.sub(" ", _OPENING.sub("", text))
    return re.sub(r"\s+", " ", body).strip()


def signature_texts(labels: Sequence[str] = EMOTION_STYLES) -> dict[str, str]:
    """Each label's movement signature as a sentence of the template's cue phrases."""
    out = {}
    for style in labels:
        cues = SIGNATURES[style]
        if not cues:
            out[style] = NEUTRAL_SIGNATURE
            continue
        phrases = [CUE_PHRASES[(cue, direction)] for cue, direction in cues.items()]
        out[style] = f"The person {', '.join(phrases[:-1])} and {phrases[-1]}."
    return out


def recovered_labels(texts: Sequence[str], labels: Sequence[str] = EMOTION_STYLES
                     ) -> list[str]:
    """The label whose signature is nearest each text (label words removed)."""
    from emotion_node.training.text_encoder import embed_texts

    signatures = signature_texts(labels)
    keys = list(signatures)
    anchors = embed_texts([signatures[k] for k in keys])  # unit vectors
    bodies = [without_label_words(t) for t in texts]
    found = embed_texts(bodies) if bodies else np.zeros((0, anchors.shape[1]), np.float32)
    return [keys[int(i)] for i in (found @ anchors.T).argmax(-1)] if len(found) else []


def recovered_hits(answers: Mapping[str, Sequence[str]], labels: Sequence[str]
                   ) -> dict[str, list[bool]]:
    """Per kind of answer, whether each answer's label is recovered from its text alone; every
    kind explains the same `labels` (one per answer)."""
    out = {}
    for kind, texts in answers.items():
        if len(texts) != len(labels):
            raise ValueError(f"{kind}: {len(texts)} answers for {len(labels)} labels")
        out[kind] = [f == t for f, t in zip(recovered_labels(texts), labels)]
    return out


def paired_recovery(hits: Mapping[str, Sequence[bool]], a: str, b: str) -> dict[str, float]:
    """Two kinds of answer to the same windows compared pair by pair: the windows only `a`'s
    text gives the label back, only `b`'s, and the exact McNemar p of the difference."""
    from emotion_node.evaluation.loco_report import mcnemar
    only_a, only_b, p = mcnemar(list(hits[a]), list(hits[b]))
    return {f"{a}_only": only_a, f"{b}_only": only_b, "p_exact_mcnemar": p}
