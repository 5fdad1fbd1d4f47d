"""Explanation text: templates, cue reference, claim parser and faithfulness checker."""
import numpy as np
import pytest

from emotion_node.model.explanations import (
    BACKGROUND, CUE_PHRASES, CueReference, answer_text, check_explanation, claims_sentence,
    degenerate_reasons, parse_explanation, salient_cues, summarise_checks,
    template_explanation, to_style)
from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.skeleton.cues import CUE_NAMES


def _z(**values):
    z = np.zeros(len(CUE_NAMES))
    for name, value in values.items():
        z[CUE_NAMES.index(name)] = value
    return z


@pytest.mark.parametrize("cue_dir", sorted(CUE_PHRASES))
def test_every_phrase_parses_back_to_its_cue(cue_dir):
    parsed = parse_explanation(answer_text("sad", [cue_dir]))
    assert parsed.label == "sad"
    assert parsed.claims == [cue_dir]
    assert parsed.background == [BACKGROUND["sad"]] and not parsed.unparsed


@pytest.mark.parametrize("style", EMOTION_STYLES)
def test_template_is_faithful_and_consistent(style):
    z = _z(speed=-1.8, head_pitch=1.2, tempo=0.9)
    text = template_explanation(style, z)
    result = check_explanation(text, style, z)
    assert result.claims == 2 and result.held == 2
    assert not result.contradictions and not result.degenerate
    assert result.stated_label == style


def test_salient_cues_order_threshold_and_nan():
    z = _z(speed=-1.1, bounce=2.5, jerkiness=0.99)
    z[CUE_NAMES.index("tempo")] = np.nan
    assert salient_cues(z) == [("bounce", 1), ("speed", -1)]
    assert salient_cues(z, max_claims=1) == [("bounce", 1)]
    assert claims_sentence([]) .startswith("No movement cue")


def test_claims_against_the_cues():
    z = _z(speed=1.5, head_pitch=0.2)
    text = "Emotion: sad. The person moves more slowly than usual and keeps the head lowered."
    result = check_explanation(text, "sad", z)
    assert result.claims == 2 and result.held == 0  # speed is high; head pitch too small
    nothing = "Emotion: sad. No movement cue stands out from the usual."
    result = check_explanation(nothing, "sad", _z(speed=1.4))
    assert result.claims == 1 and result.held == 1 and not result.contradictions
    assert check_explanation(nothing, "sad", _z(speed=-1.6)).held == 0


def test_contradictions_are_caught():
    z = _z(speed=-2.0)
    wrong_label = check_explanation(answer_text("happy", [("speed", -1)]), "sad", z)
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
    clean = check_explanation(answer_text("not-confident", []), "not-confident", z)
    assert not clean.contradictions


def test_degenerate_outputs_are_caught():
    assert degenerate_reasons("   ") == ["empty"]
    loop = "Emotion: sad. The person moves slowly and the person moves slowly and the person " \
           "moves slowly."
    assert "repetition" in degenerate_reasons(loop)
    assert "repetition" in degenerate_reasons("Emotion: sad. It is sad. It is sad.")
    assert degenerate_reasons("Emotion: sad. The person moves slo") == ["cut"]
    assert check_explanation("The person moves slowly.", "sad", _z()).degenerate == ["format"]
    assert degenerate_reasons(answer_text("sad", [("speed", -1), ("head_pitch", 1)])) == []


def test_summary_counts():
    z = _z(speed=-2.0)
    results = [check_explanation(template_explanation("sad", z), "sad", z),
               check_explanation("Emotion: sad. The person moves faster than usual.", "sad", z),
               check_explanation("", "sad", z)]
    summary = summarise_checks(results)
    assert summary["claims"] == 2 and summary["faithfulness"] == 0.5
    assert summary["degenerate"]["empty"] == 1
    assert summary["degenerate_rate"] == pytest.approx(1 / 3)


def test_reference_fit_zscores_and_round_trip():
    rng = np.random.default_rng(0)
    cues, contents, styles = [], [], []
    for content, base in (("walk", 1.0), ("bow", 0.0)):
        for style, shift in (("normal", 0.0), ("sad", -0.5), ("happy", 0.5)):
            for _ in range(20):
                cues.append(base + shift + 0.1 * rng.standard_normal(len(CUE_NAMES)))
                contents.append(content)
                styles.append(style)
    ref = CueReference.fit(np.array(cues), contents, styles)
    assert ref.content_means["walk"][0] == pytest.approx(1.0, abs=0.05)
    assert ref.global_mean[0] == pytest.approx(0.5, abs=0.05)  # median of the two actions
    sad_walk = np.full(len(CUE_NAMES), 0.2)
    assert ref.zscores(sad_walk, "walk")[0] < -1.0
    assert abs(ref.zscores(sad_walk)[0]) < 0.6  # unknown action: the global mean
    back = CueReference.from_dict(ref.to_dict())
    assert np.allclose(back.zscores(sad_walk, "bow"), ref.zscores(sad_walk, "bow"))
    with pytest.raises(ValueError, match="lack"):
        ref.zscores({"speed": 1.0})
    with pytest.raises(ValueError, match="neutral style"):
        CueReference.fit(np.array(cues), contents, ["sad"] * len(cues))


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
    assert parsed.claims == [("head_pitch", 1)] and parsed.unparsed == ["drags feet"]
    result = check_explanation(text, "sad", z)
    assert result.claims == 2 and result.held == 1 and result.unparsed == 1
    assert check_explanation("Emotion: sad. The person seems calm.", "sad", z).held == 0
