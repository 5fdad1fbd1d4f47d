"""Per-person temporal smoothing of class scores, with hysteresis on the published label.

Scores are smoothed with an exponential moving average whose weight follows the skeleton stamps
(so an irregular tick rate does not change the time constant). The label switches only when a
new class beats the current one by a margin and the current label has been held long enough:
a planner then sees one change per real change, not a flicker at every close call.
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

    def __post_init__(self) -> None:
        for name in ('tau_s', 'margin', 'min_hold_s'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f'SmoothingConfig.{name} must be finite and >= 0, got {value}')


class LabelSmoother:
    """Smoothed scores and a hysteresis label for one person."""

    def __init__(self, num_classes: int) -> None:
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes
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
            self.scores, self.label, self._last_t = probs, int(np.argmax(probs)), t
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

    def _pick(self, scores: np.ndarray, t: float, config: SmoothingConfig) -> int:
        """Keep the current label unless a challenger leads by the margin after the hold time."""
        best = int(np.argmax(scores))
        current = self.label
        if current is None or t < self._since:
            self._since = t
            return best
        if best == current or t - self._since < config.min_hold_s:
            return current
        if scores[best] >= scores[current] + config.margin:
            self._since = t
            return best
        return current


def label_changes(labels: Sequence[Any]) -> int:
    """Count how often consecutive labels differ (empty labels and None are skipped)."""
    seen = [label for label in labels if label is not None and label != '']
    return sum(1 for a, b in zip(seen, seen[1:]) if a != b)
