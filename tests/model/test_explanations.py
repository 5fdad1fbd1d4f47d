"""Explanation text: signatures, wording and composer, cue reference, parser and checker."""
import numpy as np
import pytest

from emotion_node.model import wording
from emotion_node.model.explanations import (
    CueReference, check_explanation, degenerate_reasons, parse_explanation, summarise_checks,
    template_explanation, to_style)
from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.signatures import AGAINST, SIGNATURES, SUPPORTS, UNRELATED, relation
from emotion_node.model.wording import (
    BACKGROUND, CUE_WORDINGS, GENERAL, SPAN_WORDS, Claim, compose_answer, salient_claims,
    split_by_label)
from emotion_node.skeleton.cues import CUE_NAMES


def _z(**values):
    z = np.zeros(len(CUE_NAMES))
    for name, value in values.items():
        z[CUE_NAMES.index(name)] = value
    return z


def _spans(whole, first, second):
    """(3, 7) z-scores of a window and its halves from three `_z` arrays."""
    return np.stack([whole, first, second])


def test_signature_relations():
    assert relation("sad", "speed", -1) == SUPPORTS and relation("sad", "speed", 1) == AGAINST
    assert relation("proud", "speed", 1) == UNRELATED  # the table says nothing of pride's pace
    assert all(relation("normal", c, d) == AGAINST for c in CUE_NAMES for d in (1, -1))
    with pytest.raises(ValueError, match="'bored'"):
        relation("bored", "speed", 1)
    for style, predicates in GENERAL.items():  # general statements name only what supports
        for _, mentions in predicates:
            assert all(SIGNATURES[style].get(c) == d for c, d in mentions), style


@pytest.mark.parametrize("cue_dir", sorted(CUE_WORDINGS))
def test_every_phrasing_and_span_parses_back(cue_dir):
    cue, direction = cue_dir
    spans = ("window", "throughout", "first_half", "second_half") if cue in \
        ("speed", "head_pitch", "expansion", "jerkiness") else ("window",)
    for phrasing in CUE_WORDINGS[cue_dir]:
        for span in spans:
            for word in SPAN_WORDS[span]:
                clause = phrasing if phrasing.startswith(("the ", "there ")) else \
                    "the person " + phrasing
                text = f"Emotion: sad. {clause[0].upper()}{clause[1:]} {word}".rstrip() + "."
                parsed = parse_explanation(text)
                assert parsed.claims == [Claim(cue, direction, span)], text
                assert not parsed.unparsed and not parsed.contrary[0], text


def test_composed_answers_hold_and_never_clash():
    """Random windows, labels and readings: every composed claim holds, nothing clashes."""
    rng = np.random.default_rng(0)
    texts = set()
    for _ in range(3000):
        z = rng.standard_normal((3, 7)) * rng.choice([0.5, 1.5, 3.0])
        style, reading = (str(s) for s in rng.choice(EMOTION_STYLES, 2))
        text = compose_answer(style, *split_by_label(style, salient_claims(z)), rng, reading)
        result = check_explanation(text, style, z, reading)
        assert result.held == result.claims >= 1, text
        assert not result.clashes and not result.contradictions, (text, result)
        assert not result.degenerate and not result.unparsed, text
        texts.add(text)
    assert len(texts) > 2500  # varied: hardly any two alike


def test_contrary_cues_are_marked_and_the_general_statement_fits():
    z = _spans(_z(jerkiness=2.5, arm_swing=1.8, head_pitch=1.2),
               _z(jerkiness=2.0, head_pitch=1.0), _z(jerkiness=2.0, head_pitch=1.1))
    support, against = split_by_label("tired", salient_claims(z))
    assert support == [Claim("head_pitch", 1, "throughout")]
    assert against == [Claim("jerkiness", 1, "throughout"), Claim("arm_swing", 1)]
    text = compose_answer("tired", support, against, None)
    assert text == ("Emotion: tired. The person keeps the head lowered throughout. Although "
                    "the person moves the hands in abrupt, jerky bursts the whole time, the rest "
                    "fits. "
                    "Tiredness typically comes with a lowered head and a slow rhythm, which "
                    "this movement only partly shows.")  # the predicate that names the reason
    parsed = parse_explanation(text)
    assert parsed.contrary == [False, True]
    # The example: the old template glues these cues to tiredness and never says so.
    old = template_explanation("tired", z)
    assert old.startswith("Emotion: tired. The person moves in abrupt, jerky bursts and swings "
                          "the arms widely.")
    assert len(check_explanation(old, "tired", z).clashes) == 2


def test_silent_clashes_are_counted():
    z = _z(speed=2.0, jerkiness=1.5)
    reason = check_explanation("Emotion: tired. The person moves faster than usual.", "tired", z)
    assert reason.clashes == ["gives speed +1 as a reason for 'tired'"]
    marked = check_explanation("Emotion: tired. Although the person moves faster than usual, "
                               "the rest fits.", "tired", z)
    assert not marked.clashes and marked.held == marked.claims == 1
    general = check_explanation("Emotion: tired. The movement shows little of tiredness. "
                                "Tiredness often shows as slow, heavy movement.", "tired", z)
    assert general.clashes == ["general statement names speed -1, the movement shows the "
                               "opposite"]
    assert general.held == general.claims == 1  # "little of": no tired cue departs
    honest = check_explanation("Emotion: tired. The movement shows little of tiredness. "
                               "Tiredness usually shows as slow, heavy movement, but that is "
                               "not what this movement shows.", "tired", z)
    assert not honest.clashes
    wrong = check_explanation("Emotion: sad. The head hangs forward. Sadness often shows as "
                              "fast movement.", "sad", _z(head_pitch=2.0))
    assert wrong.clashes == ["general statement names speed +1, against the signature of "
                             "'sad'"]
    unfounded = check_explanation("Emotion: proud. The movement shows little of pride. This "
                                  "fits pride, which often shows as an upright, open posture.",
                                  "proud", _z())
    assert unfounded.clashes == ["general statement says the movement fits, no reason given"]
    neutral = check_explanation("Emotion: neutral. The person moves faster than usual.",
                                "normal", z)
    assert neutral.clashes == ["gives speed +1 as a reason for 'normal'"]
    assert summarise_checks([reason, marked, general, neutral])["label_cue_clashes"] == 3


def test_spans_hold_only_where_the_halves_carry_the_cue():
    z = _spans(_z(speed=1.5), _z(speed=2.5), _z(speed=0.1))
    check = lambda text: check_explanation(f"Emotion: happy. {text}", "happy", z)  # noqa
    assert check("The person moves faster than usual at first.").held == 1
    assert check("The person moves faster than usual throughout.").held == 0
    assert check("The person moves faster than usual towards the end.").held == 0
    assert salient_claims(z) == [Claim("speed", 1, "first_half")]
    # Swing, bounce and tempo are only judged over the whole window.
    assert salient_claims(_spans(_z(bounce=2.0), _z(bounce=3.0), _z(bounce=3.0))) == \
        [Claim("bounce", 1, "window")]
    windows_only = check_explanation("Emotion: happy. The person moves faster than usual "
                                     "throughout.", "happy", _z(speed=2.0))
    assert windows_only.held == 0  # no halves measured: a span claim cannot be checked


def test_second_reading_is_parsed_and_checked():
    text = compose_answer("sad", [Claim("speed", -1)], [], None, reading="tired")
    assert text.endswith("The movement could also be read as tired.")
    z = _z(speed=-2.0)
    ok = check_explanation(text, "sad", z, reading="tired")
    assert ok.alternative == "tired" and not ok.contradictions and ok.held == ok.claims == 1
    assert check_explanation(text, "sad", z).alternative == "tired"  # no reading: not judged
    assert any("second reading 'tired'" in r
               for r in check_explanation(text, "sad", z, reading="happy").contradictions)
    missing = check_explanation(compose_answer("sad", [Claim("speed", -1)], [], None), "sad",
                                z, reading="tired")
    assert any("second reading None" in r for r in missing.contradictions)
    itself = check_explanation(text.replace("tired", "sad"), "sad", z)
    assert any("other reading of itself" in r for r in itself.contradictions)


def test_template_is_faithful_and_states_its_label():
    z = _z(speed=-1.8, head_pitch=1.2, tempo=0.9)
    for style in EMOTION_STYLES:
        result = check_explanation(template_explanation(style, z), style, z)
        assert result.claims == 2 and result.held == 2
        assert not result.contradictions and not result.degenerate
        assert result.stated_label == style
    assert template_explanation("sad", z).endswith(BACKGROUND["sad"])


def test_salient_claims_order_threshold_and_nan():
    z = _z(speed=-1.1, bounce=2.5, jerkiness=0.99)
    z[CUE_NAMES.index("tempo")] = np.nan
    assert salient_claims(z) == [Claim("bounce", 1), Claim("speed", -1)]
    assert salient_claims(z, max_claims=1) == [Claim("bounce", 1)]
    assert compose_answer("normal", [], [], None).split(". ")[1].startswith("No movement cue")


def test_claims_against_the_cues():
    z = _z(speed=1.5, head_pitch=0.2)
    text = "Emotion: sad. The person moves more slowly than usual and keeps the head lowered."
    result = check_explanation(text, "sad", z)
    assert result.claims == 2 and result.held == 0  # speed is high; head pitch too small
    nothing = "Emotion: neutral. No movement cue stands out from the usual."
    result = check_explanation(nothing, "normal", _z(speed=1.4))
    assert result.claims == 1 and result.held == 1 and not result.contradictions
    assert check_explanation(nothing, "normal", _z(speed=-1.6)).held == 0
    rest = "Emotion: neutral. Although the person moves faster than usual, nothing else " \
           "stands out from the usual."
    assert check_explanation(rest, "normal", _z(speed=2.0, tempo=1.2)).held == 2
    assert check_explanation(rest, "normal", _z(speed=2.0, tempo=1.6)).held == 1


def test_contradictions_are_caught():
    z = _z(speed=-2.0)
    wrong_label = check_explanation(compose_answer("happy", [], [], None), "sad", z)
    assert any("states 'happy'" in r for r in wrong_label.contradictions)
    both = check_explanation("Emotion: sad. The person moves faster than usual and moves "
                             "more slowly than usual.", "sad", z)
    assert any("both directions of speed" in r for r in both.contradictions)
    other = check_explanation("Emotion: sad. The person looks angry and moves slowly.", "sad", z)
    assert any("'angry'" in r for r in other.contradictions)
    comma = check_explanation("Emotion: sad, the person looks happy.", "sad", z)
    assert any("calls the person 'happy'" in r for r in comma.contradictions)  # one parse
    general = check_explanation("Emotion: sad. The person moves slowly. " + BACKGROUND["happy"],
                                "sad", z)
    assert any("general statement" in r for r in general.contradictions)
    noun = check_explanation("Emotion: sad. The person moves slowly, which runs against anger.",
                             "sad", z)
    assert any("'angry'" in r for r in noun.contradictions)
    clean = check_explanation(compose_answer("not-confident", [], [], None), "not-confident", z)
    assert not clean.contradictions


def test_degenerate_outputs_are_caught():
    assert degenerate_reasons("   ") == ["empty"]
    loop = "Emotion: sad. The person moves slowly and the person moves slowly and the person " \
           "moves slowly."
    assert "repetition" in degenerate_reasons(loop)
    assert "repetition" in degenerate_reasons("Emotion: sad. It is sad. It is sad.")
    assert degenerate_reasons("Emotion: sad. The person moves slo") == ["cut"]
    assert check_explanation("The person moves slowly.", "sad", _z()).degenerate == ["format"]
    claims = [Claim("speed", -1), Claim("head_pitch", 1)]
    assert degenerate_reasons(compose_answer("sad", claims, [], None)) == []


def test_summary_counts():
    z = _z(speed=-2.0)
    results = [check_explanation(template_explanation("sad", z), "sad", z),
               check_explanation("Emotion: sad. The person moves faster than usual.", "sad", z),
               check_explanation("", "sad", z)]
    summary = summarise_checks(results)
    assert summary["claims"] == 2 and summary["faithfulness"] == 0.5
    assert summary["degenerate"]["empty"] == 1 and summary["label_cue_clashes"] == 1
    assert summary["degenerate_rate"] == pytest.approx(1 / 3)


def test_reference_fit_zscores_and_round_trip():
    rng = np.random.default_rng(0)
    cues, actions, emotions = [], [], []
    for action, base in (("dataset-1:walk", 1.0), ("dataset-1:bow", 0.0)):
        for emotion, shift in (("normal", 0.0), ("sad", -0.5), ("happy", 0.5)):
            for _ in range(20):
                cues.append(base + shift + 0.1 * rng.standard_normal(len(CUE_NAMES)))
                actions.append(action)
                emotions.append(emotion)
    ref = CueReference.fit(np.array(cues), actions, emotions)
    assert ref.content_means["dataset-1:walk"][0] == pytest.approx(1.0, abs=0.05)
    assert ref.global_mean[0] == pytest.approx(0.5, abs=0.05)  # median of the two actions
    sad_walk = np.full(len(CUE_NAMES), 0.2)
    assert ref.zscores(sad_walk, "dataset-1:walk")[0] < -1.0
    assert abs(ref.zscores(sad_walk)[0]) < 0.6  # unknown action: the global mean
    assert ref.zscores(np.stack([sad_walk] * 3), "dataset-1:walk").shape == (3, 7)  # spans
    back = CueReference.from_dict(ref.to_dict())
    assert np.allclose(back.zscores(sad_walk, "dataset-1:bow"),
                       ref.zscores(sad_walk, "dataset-1:bow"))
    with pytest.raises(ValueError, match="lack"):
        ref.zscores({"speed": 1.0})
    with pytest.raises(ValueError, match="neutral style"):
        CueReference.fit(np.array(cues), actions, ["sad"] * len(cues))


def test_reference_spread_weighs_every_group_alike():
    """Many windows of one group (a second dataset's neutral ones) must not shrink the scale."""
    rng = np.random.default_rng(1)
    cues = [rng.normal(0, 0.01, 7) for _ in range(500)] + \
        [rng.normal(s, 0.1, 7) for s in (-1.0, 1.0) for _ in range(20)]
    emotions = ["normal"] * 500 + ["sad"] * 20 + ["happy"] * 20
    ref = CueReference.fit(np.array(cues), ["a"] * 540, emotions)
    assert ref.scale[0] > 0.5  # each of the three emotions weighs a third
    pooled = CueReference.fit(np.array(cues), ["a"] * 540, emotions,
                              window_groups=["x"] * 540)
    assert pooled.scale[0] < 0.1  # the one big group sets it when all pool alike


def test_to_style_accepts_styles_hri_labels_and_words():
    assert to_style("normal") == "normal" and to_style("neutral") == "normal"
    assert to_style("not_confident") == "not-confident"
    assert to_style("not confident") == "not-confident"
    with pytest.raises(ValueError, match="'bored'"):
        to_style("bored")


def test_unverifiable_statements_count_against_faithfulness():
    z = _z(head_pitch=2.0)
    text = "Emotion: sad. The person keeps the head lowered and drags the feet."
    parsed = parse_explanation(text)
    assert parsed.claims == [Claim("head_pitch", 1)] and parsed.unparsed == ["drags feet"]
    result = check_explanation(text, "sad", z)
    assert result.claims == 2 and result.held == 1 and result.unparsed == 1
    assert check_explanation("Emotion: sad. The person seems calm.", "sad", z).held == 0


def test_descriptions_cover_both_datasets():
    from emotion_node.skeleton.dataset import DATASETS

    for spec in DATASETS.values():
        for style in spec.styles:
            assert wording.description_text(style, []).startswith("This looks like ")
