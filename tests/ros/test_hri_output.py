"""ROS4HRI output without DDS: body ids as topic names, labels as Expression strings.

Publishing across processes: tests/ros/test_trackers.py.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from rclpy.validate_full_topic_name import validate_full_topic_name

from emotion_node.model.labels import CIRCUMPLEX, EMOTION_STYLES, hri_label
from emotion_node.ros.hri_output import NO_EXPRESSION, TOPIC, expression_of, hri_body_id

EXPRESSION_MSG = Path(__file__).resolve().parent / 'interfaces' / 'hri_msgs' / 'msg' / \
    'Expression.msg'


def expression_constants() -> set[str]:
    """The expression strings hri_msgs/Expression defines (its string constants)."""
    return set(re.findall(r'^string [A-Z_]+="([a-z_]+)"', EXPRESSION_MSG.read_text(), re.M))


@pytest.mark.parametrize('body_id, token', [
    ('anna', 'anna'), ('wxyzq', 'wxyzq'), ('Body_3', 'Body_3'),  # valid: kept as they are
    ('3', 'body_3'), ('42', 'body_42'),  # ZED and yolo_ros ids
])
def test_valid_and_numeric_ids(body_id, token):
    assert hri_body_id(body_id) == token


@pytest.mark.parametrize('body_id', ['3', 'a-b', 'a b', 'ß', '7/x', 'x' * 300, '_', 'A9', 'id.2'])
def test_every_id_gives_a_valid_topic(body_id):
    validate_full_topic_name(TOPIC.format(hri_body_id(body_id)))  # raises when invalid


def test_ids_that_clean_alike_stay_apart():
    ids = ['a-b', 'a_b', 'a b', 'a.b', 'x' * 300, 'x' * 301]
    tokens = [hri_body_id(i) for i in ids]
    assert len(set(tokens)) == len(ids), tokens
    assert tokens[1] == 'a_b' and tokens[0].startswith('a_b_')


def test_the_published_expression_of_every_label():
    constants = expression_constants()
    assert len(constants) == 25 and 'tired' in constants  # the published list
    for style in EMOTION_STYLES:
        expression = expression_of(style)
        if hri_label(style) in constants:  # neutral, happy, sad, angry, tired
            assert expression == hri_label(style)
        else:  # proud, not_confident: no equivalent among the 25
            assert expression == NO_EXPRESSION and style in ('proud', 'not-confident')
        assert style in CIRCUMPLEX  # valence and arousal stay filled either way
