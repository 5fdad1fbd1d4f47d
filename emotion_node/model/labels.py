"""Emotion label names, their ROS-facing strings and the circumplex valence/arousal mapping."""
import functools
from typing import Dict, Tuple

import numpy as np

# Dataset style names of the seven emotion-like styles, in model output order.
EMOTION_STYLES: Tuple[str, ...] = (
    "normal", "happy", "sad", "angry", "proud", "not-confident", "tired",
)

# Every style of the motion dataset; the eight non-emotion styles only serve pre-training.
ALL_STYLES: Tuple[str, ...] = EMOTION_STYLES + (
    "active", "childish", "chimpira", "feminine", "giant", "masculinity", "musical", "old",
)

# ROS4HRI hri_msgs/Expression string constants that have a direct counterpart among the styles.
HRI_EXPRESSIONS: Dict[str, str] = {
    "normal": "neutral",
    "happy": "happy",
    "sad": "sad",
    "angry": "angry",
    "tired": "tired",
}

# Styles without an hri_msgs/Expression counterpart keep their own lowercase identifier.
_OWN_LABELS: Dict[str, str] = {
    "proud": "proud",
    "not-confident": "not_confident",
}

# Expected (valence, arousal) of each style on Russell's circumplex of affect, in [-1, 1].
# There are no valence/arousal labels in the data: these are fixed positions placed from the
# circumplex literature (Russell 1980; pride and insecurity after the Geneva Emotion Wheel),
# and the model reports the probability-weighted mean of them (see `valence_arousal`).
CIRCUMPLEX: Dict[str, Tuple[float, float]] = {
    "normal": (0.0, 0.0),
    "happy": (0.8, 0.5),
    "sad": (-0.7, -0.5),
    "angry": (-0.6, 0.8),
    "proud": (0.6, 0.4),
    "not-confident": (-0.4, -0.2),
    "tired": (-0.3, -0.8),
}


def hri_label(style: str) -> str:
    """Return the ROS-facing lowercase label of a style (hri_msgs/Expression where one fits)."""
    if style in HRI_EXPRESSIONS:
        return HRI_EXPRESSIONS[style]
    if style in _OWN_LABELS:
        return _OWN_LABELS[style]
    raise ValueError(f"unknown emotion style {style!r}; expected one of {EMOTION_STYLES}")


@functools.lru_cache(maxsize=8)  # called per person and tick with the model's one label tuple
def circumplex_table(labels: Tuple[str, ...] = EMOTION_STYLES) -> np.ndarray:
    """Return the (C, 2) valence/arousal table for `labels`, in their order (read-only)."""
    missing = [name for name in labels if name not in CIRCUMPLEX]
    if missing:
        raise ValueError(f"no circumplex position for styles {missing}")
    table = np.array([CIRCUMPLEX[name] for name in labels], dtype=np.float32)
    table.setflags(write=False)
    return table


def valence_arousal(probs: np.ndarray, labels: Tuple[str, ...] = EMOTION_STYLES) -> np.ndarray:
    """Map class probabilities (..., C) to (..., 2) valence/arousal: the circumplex expectation."""
    probs = np.asarray(probs, dtype=np.float32)
    table = circumplex_table(tuple(labels))  # (C, 2)
    if probs.shape[-1] != table.shape[0]:
        raise ValueError(
            f"probabilities have {probs.shape[-1]} classes but labels list {table.shape[0]}")
    # A convex combination of points inside [-1, 1]^2 stays inside it.
    return probs @ table
