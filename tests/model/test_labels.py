"""Emotion labels, their ROS strings and the circumplex valence/arousal mapping."""
import numpy as np
import pytest

from emotion_node.model.labels import (
    ALL_STYLES, CIRCUMPLEX, EMOTION_STYLES, HRI_EXPRESSIONS, circumplex_table, hri_label,
    valence_arousal)

# The hri_msgs/Expression string constants (ROS4HRI) the mapping may use.
_HRI_CONSTANTS = {
    "neutral", "angry", "sad", "happy", "surprised", "disgusted", "scared", "pleading",
    "vulnerable", "despaired", "guilty", "disappointed", "embarrassed", "horrified", "skeptical",
    "annoyed", "furious", "suspicious", "rejected", "bored", "tired", "asleep", "confused",
    "amazed", "excited"}


def test_emotion_styles_are_the_first_seven_of_all_fifteen():
    assert len(EMOTION_STYLES) == 7 and len(ALL_STYLES) == 15
    assert ALL_STYLES[:7] == EMOTION_STYLES
    assert len(set(ALL_STYLES)) == 15


def test_hri_labels_are_lowercase_and_use_expression_strings_where_mapped():
    assert hri_label("normal") == "neutral"
    for style in EMOTION_STYLES:
        label = hri_label(style)
        assert label == label.lower() and " " not in label and "-" not in label
    assert set(HRI_EXPRESSIONS.values()) <= _HRI_CONSTANTS
    assert hri_label("not-confident") == "not_confident"
    with pytest.raises(ValueError, match="'giant'"):
        hri_label("giant")


def test_circumplex_positions_are_in_range_and_ordered_sensibly():
    table = circumplex_table()
    assert table.shape == (7, 2)
    assert np.all(np.abs(table) <= 1.0)
    assert CIRCUMPLEX["normal"] == (0.0, 0.0)
    assert CIRCUMPLEX["happy"][0] > 0 > CIRCUMPLEX["sad"][0]
    assert CIRCUMPLEX["angry"][1] > 0 > CIRCUMPLEX["tired"][1]


def test_valence_arousal_is_the_probability_weighted_mean():
    probs = np.zeros((3, 7), np.float32)
    probs[0, EMOTION_STYLES.index("happy")] = 1.0
    probs[1] = 1.0 / 7
    probs[2, [1, 2]] = 0.5  # half happy, half sad
    va = valence_arousal(probs)
    assert va.shape == (3, 2)
    np.testing.assert_allclose(va[0], CIRCUMPLEX["happy"], atol=1e-6)
    np.testing.assert_allclose(va[1], circumplex_table().mean(0), atol=1e-6)
    np.testing.assert_allclose(
        va[2], (np.array(CIRCUMPLEX["happy"]) + CIRCUMPLEX["sad"]) / 2, atol=1e-6)
    assert valence_arousal(probs[None]).shape == (1, 3, 2)


def test_valence_arousal_checks_the_class_count():
    with pytest.raises(ValueError, match="6 classes"):
        valence_arousal(np.ones((2, 6)) / 6)
