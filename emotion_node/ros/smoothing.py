"""Per-person temporal smoothing of class scores, with hysteresis on the published label.

Scores are smoothed with an exponential moving average whose weight follows the skeleton stamps
(so an irregular tick rate does not change the time constant). The label switches only when a
new class beats the current one by a margin and the current label has been held long enough:
a planner then sees one change per real change, not a flicker at every close call.

Neutral is the default: with `neutral_below` > 0 a non-neutral label is published only while
its smoothed score reaches it, and a person is labelled neutral otherwise (the node's default is
0.7; what it costs and saves is measured in EVALUATION.md). The dataclass default, 0, is the
plain argmax with hysteresis.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class SmoothingConfig:
    """How scores are smoothed and when the label may change."""

    enabled: bool = True
    tau_s: float = 1.0  # EMA time constant (s); 0 = no averaging
    margin: float = 0.1  # smoothed-probability lead a new label needs
    min_hold_s: float = 1.0  # a label stays at least this long
    neutral_below: float = 0.0  # a non-neutral label needs this smoothed score (0 = off)

    def __post_init__(self) -> None:
        for name in ('tau_s', 'margin', 'min_hold_s', 'neutral_below'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f'SmoothingConfig.{name} must be finite and >= 0, got {value}')
        if self.neutral_below > 1.0:
            raise ValueError(f'SmoothingConfig.neutral_below must be <= 1, got '
                             f'{self.neutral_below}')


class LabelSmoother:
    """Smoothed scores and a hysteresis label for one person."""

    def __init__(self, num_classes: int, neutral: Optional[int] = None) -> None:
        """`neutral`: index of the neutral class, the label `neutral_below` falls back to."""
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        if neutral is not None and not 0 <= neutral < num_classes:
            raise ValueError(f'neutral class {neutral} is not one of {num_classes} classes')
        self.num_classes = num_classes
        self.neutral = neutral
        self.scores: Optional[np.ndarray] = None  # (C,) smoothed probabilities
        self.label: Optional[int] = None
        self._last_t = -math.inf
        self._since = -math.inf  # when the current label was chosen

    def update(self, probs: np.ndarray, t: float, config: SmoothingConfig) -> Tuple[int, float]:
        """Fold in one (C,) probability vector at time t; return (label index, its score)."""
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (self.num_classes,):
            raise ValueError(f'expected ({self.num_classes},) probabilities, got {probs.shape}')
        if not config.enabled:
            self.scores, self.label, self._last_t = probs, self._best(probs, config), t
            self._since = t
            return self.label, float(probs[self.label])
        dt = t - self._last_t
        if self.scores is None or dt < 0 or config.tau_s == 0:
            self.scores = probs  # first sample, or time went backwards: restart the average
        else:
            alpha = 1.0 - math.exp(-dt / config.tau_s)
            self.scores = (1.0 - alpha) * self.scores + alpha * probs
        self._last_t = t
        self.label = self._pick(self.scores, t, config)
        return self.label, float(self.scores[self.label])

    def _unsure(self, scores: np.ndarray, label: int, config: SmoothingConfig) -> bool:
        """A non-neutral label whose score is below `neutral_below`."""
        return self.neutral is not None and label != self.neutral and \
            scores[label] < config.neutral_below

    def _best(self, scores: np.ndarray, config: SmoothingConfig) -> int:
        """The highest score, or neutral when that is an unsure non-neutral one."""
        best = int(np.argmax(scores))
        if self._unsure(scores, best, config):
            assert self.neutral is not None
            return self.neutral
        return best

    def _pick(self, scores: np.ndarray, t: float, config: SmoothingConfig) -> int:
        """Keep the current label unless a challenger leads by the margin after the hold time
        (or, with `neutral_below`, the current label has become unsure)."""
        best = self._best(scores, config)
        current = self.label
        if current is None or t < self._since:
            self._since = t
            return best
        if best == current or t - self._since < config.min_hold_s:
            return current
        if self._unsure(scores, current, config) or \
                scores[best] >= scores[current] + config.margin:
            self._since = t
            return best
        return current


def label_changes(labels: Sequence[Any]) -> int:
    """Count how often consecutive labels differ (empty labels and None are skipped)."""
    seen = [label for label in labels if label is not None and label != '']
    return sum(1 for a, b in zip(seen, seen[1:]) if a != b)
