"""The per-window answer grammar: every answer it allows passes the checker, the composer's
answers are among them, and what the measurements do not support cannot be spelt."""
import re

import numpy as np
import pytest

from emotion_node.model.answer_grammar import answer_language, longest, sample, to_regex
from emotion_node.model.answers import passes
from emotion_node.model.explanations import check_explanation
from emotion_node.model.wording import (
    EMOTION_WORDS, compose_answer, salient_claims, split_by_label)
from emotion_node.skeleton.cues import CUE_NAMES

STYLES = list(EMOTION_WORDS)


def _window(rng):
    z = rng.normal(0, 1.3, (3, len(CUE_NAMES)))
    if rng.random() < 0.3:
        z[1:, [1, 5, 6]] = np.nan  # halves never judge the span-dependent cues
    return z


def test_every_answer_the_grammar_allows_passes_the_checker():
    rng = np.random.default_rng(0)
    for _ in range(150):
        z, style = _window(rng), STYLES[rng.integers(len(STYLES))]
        reading = STYLES[rng.integers(len(STYLES))] if rng.random() < 0.4 else None
        language = answer_language(style, z, reading)
        pattern = re.compile(to_regex(language))
        for text in [sample(language, rng) for _ in range(5)] + [longest(language)]:
            assert pattern.fullmatch(text)
            check = check_explanation(text, style, z, reading)
            assert passes(check), (text, check)


def test_the_composers_answers_are_in_the_grammar():
    """One vocabulary: whatever the composer writes, the LLM may write too."""
    rng = np.random.default_rng(1)
    for seed in range(150):
        z, style = _window(rng), STYLES[rng.integers(len(STYLES))]
        reading = STYLES[rng.integers(len(STYLES))] if rng.random() < 0.4 else None
        composed = compose_answer(style, *split_by_label(style, salient_claims(z)),
                                  np.random.default_rng(seed), reading)
        assert re.fullmatch(to_regex(answer_language(style, z, reading)), composed), composed


def _allows(style, z, text, reading=None):
    return re.fullmatch(to_regex(answer_language(style, z, reading)), text) is not None


def test_what_the_window_does_not_show_cannot_be_said():
    z = np.zeros(len(CUE_NAMES))
    z[CUE_NAMES.index("head_pitch")] = 2.5  # the head lowered
    z[CUE_NAMES.index("tempo")] = 2.0       # a quick rhythm: against sadness
    general = " Sadness typically comes with a bowed head and a slow rhythm, which this " \
              "movement only partly shows."
    rest = " The rhythm of the body is quick, though, which does not fit."
    good = "Emotion: sad. The person keeps the head lowered." + rest + general
    assert _allows("sad", z, good)
    # the opposite direction, a cue not measured, the contrary cue as a reason, a fitting cue
    # as contrary, another label word, the contrary cue left out with "partly"
    for bad in ("Emotion: sad. The person holds the head up." + rest + general,
                "Emotion: sad. The person keeps the head lowered and the arms hardly swing."
                + rest + general,
                "Emotion: sad. The rhythm of the body is quick." + rest + general,
                "Emotion: sad. The person keeps the head lowered. The head is bowed, though, "
                "which does not fit." + general,
                "Emotion: tired. The person keeps the head lowered." + rest + general,
                "Emotion: sad. The person keeps the head lowered." + general):
        assert not _allows("sad", z, bad), bad


def test_a_differing_reading_must_be_named_and_no_other():
    z = np.zeros(len(CUE_NAMES))
    text = "Emotion: neutral. The movement stays close to the usual. A neutral mood usually " \
           "shows as relaxed, even movement."
    assert _allows("normal", z, text) and not _allows("normal", z, text, "sad")
    assert _allows("normal", z, text + " It could also be read as sad.", "sad")
    assert not _allows("normal", z, text + " It could also be read as happy.", "sad")
    assert _allows("normal", z, text, "normal")  # a reading that agrees is not repeated


def test_a_root_locked_window_cannot_speak_of_travel_speed():
    """Emotion-Gait's gaits have no path through the room: their speed cue is nan, so no
    answer may claim one, whatever the other cues."""
    z = np.zeros((3, len(CUE_NAMES)))
    z[:, CUE_NAMES.index("speed")] = np.nan
    z[:, CUE_NAMES.index("head_pitch")] = 2.0
    language = answer_language("sad", z)
    rng = np.random.default_rng(0)
    texts = [sample(language, rng) for _ in range(200)]
    assert not any(re.search(r"faster|more slowly|slower|pace", t) for t in texts)
    assert any("head" in t for t in texts)


def test_a_window_with_many_departures_stays_within_generation_room():
    """The longest answer any grammar allows is what generation must leave room for."""
    z = np.full((3, len(CUE_NAMES)), 2.0)
    text = longest(answer_language("normal", z, "happy"))
    assert passes(check_explanation(text, "normal", z, "happy"))
    assert len(text) < 600


def test_unknown_labels_are_refused():
    with pytest.raises(ValueError, match="unknown emotion style"):
        answer_language("bored", np.zeros(len(CUE_NAMES)))
    with pytest.raises(ValueError, match="unknown reading"):
        answer_language("sad", np.zeros(len(CUE_NAMES)), "bored")


def test_the_general_statement_generalises_a_reason_where_it_can():
    """Composer and grammar alike: after "the head is lowered", sadness is described by a
    predicate that names the lowered head; with no reason, any predicate."""
    from emotion_node.model.wording import Claim, general_predicates

    assert general_predicates("sad", [Claim("head_pitch", 1)]) == [
        "slow movement with a lowered head", "a lowered head and little arm swing",
        "a bowed head and a slow rhythm"]
    assert len(general_predicates("sad", [])) == 4
    assert len(general_predicates("proud", [Claim("speed", 1)])) == 3  # none names it: all
    z = np.zeros(len(CUE_NAMES))
    z[CUE_NAMES.index("head_pitch")] = 2.0
    rng = np.random.default_rng(0)
    language = answer_language("sad", z)
    for text in [sample(language, rng) for _ in range(50)] + [compose_answer(
            "sad", *split_by_label("sad", salient_claims(z)), np.random.default_rng(s))
            for s in range(20)]:
        assert "head" in text.split(". ")[-1], text


def test_a_neutral_answer_says_the_rest_is_usual_where_it_is():
    """One or two departures: a neutral answer must say nothing else stands out (its
    evidence), as the composer does; with three, the frame without it stays open."""
    z = np.zeros(len(CUE_NAMES))
    z[CUE_NAMES.index("arm_swing")] = 2.0
    swing = "the person swings the arms widely"
    rest = (f"Emotion: neutral. Although {swing}, nothing else stands out from the usual. A "
            "neutral mood usually shows as relaxed, even movement; this movement shows only "
            "part of that.")
    without = (f"Emotion: neutral. {swing[0].upper()}{swing[1:]}, which runs against a neutral "
               "mood. A neutral mood usually shows as relaxed, even movement, but that is not "
               "what this movement shows.")
    assert _allows("normal", z, rest) and not _allows("normal", z, without)
    z[CUE_NAMES.index("tempo")] = 1.9
    z[CUE_NAMES.index("bounce")] = 1.8
    three = (f"Emotion: neutral. {swing[0].upper()}{swing[1:]} and moves the hips in a quick "
             "rhythm, which runs against a neutral mood. A neutral mood usually shows as "
             "relaxed, even movement, but that is not what this movement shows.")
    assert _allows("normal", z, three)
