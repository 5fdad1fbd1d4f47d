"""Each person against their own baseline: a person-relative reading of the model's scores.

People move differently: a calm walker's neutral reads "sad" to the model, a brisk one's
"angry". A robot that watches the same body for a while can learn how this person usually
scores and read the next window against that. The baseline lives in the model's output space:
the running mean of a person's window log-probabilities. The relative reading moves a window's
log-probabilities by how far the person's mean sits from the population's mean (the model's
own average over the people it trained on, stored in the model's config.json):

    relative = log_probs - strength * clip(baseline - population, -max_shift, max_shift)

The classifier is linear on the semantic tokens, so this is the same as re-centring the person's
tokens. `strength` 0 is the absolute model, 1 removes the person's whole offset. Measured
(EVALUATION.md, "Each person against their own baseline"): 0.5 keeps the reading of perceived
emotion, lowers the false-emotion rate on neutral walks and raises the reading of the emotion a
walker acted; 1 over-corrects.

A new person has no baseline: the absolute reading until `min_s` seconds of their windows
have been seen. The mean is a plain mean at first and an exponential one with time constant
`tau_s` after that, so a long emotional episode moves it only slowly, and the clip bounds how
far it can ever move the reading.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

# Under `training` in the model's config.json (metadata: the tokens' fingerprint ignores it):
# {label: the population's mean log-probability}.
CONFIG_KEY = 'population_log_probs'


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities of (..., C) logits."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def population_mean(per_group_log_probs: Sequence[np.ndarray]) -> np.ndarray:
    """The population's mean log-probabilities (C,): the mean of each group's (a dataset's)
    mean window log-probabilities, so no dataset weighs by its size."""
    means = [np.asarray(g, np.float64).reshape(-1, np.shape(g)[-1]).mean(axis=0)
             for g in per_group_log_probs if len(g)]
    if not means:
        raise ValueError('population_mean needs at least one window')
    return np.mean(means, axis=0)


def population_from_config(training: dict, labels: Sequence[str]) -> Optional[np.ndarray]:
    """The population mean (C,) a model's training metadata (`training` of its config.json)
    records, in `labels` order; None when it records none (a model trained before baselines
    existed: no person-relative reading)."""
    table = (training or {}).get(CONFIG_KEY)
    if not table:
        return None
    missing = [label for label in labels if label not in table]
    if missing:
        raise ValueError(f'{CONFIG_KEY} lacks the labels {missing}')
    return np.array([float(table[label]) for label in labels], np.float64)


def population_to_config(population: np.ndarray, labels: Sequence[str]) -> Dict[str, float]:
    """The config form of a population mean."""
    return {label: round(float(v), 6) for label, v in zip(labels, population)}


def relative_log_probs(log_probs: np.ndarray, baseline: np.ndarray, population: np.ndarray,
                       strength: float, max_shift: float = math.inf) -> np.ndarray:
    """(..., C) log-probabilities read against a person's baseline (C,) (module docstring).
    The result is renormalised, so it is a log-probability again."""
    shift = np.clip(np.asarray(baseline, np.float64) - np.asarray(population, np.float64),
                    -max_shift, max_shift)
    return log_softmax(np.asarray(log_probs, np.float64) - strength * shift)


@dataclass
class BaselineConfig:
    """How a person's baseline forms and how much it moves the reading."""

    strength: float = 0.5  # 0: the absolute model; 1: the person's whole offset removed
    min_s: float = 10.0  # seconds of a person's windows before their baseline is used
    tau_s: float = 120.0  # time constant of the running mean once it is that old
    max_shift: float = 1.5  # bound on the shift of any label's log-probability

    def check(self) -> 'BaselineConfig':
        """ValueError naming the first setting out of range."""
        for name, low in (('strength', 0.0), ('min_s', 0.0), ('tau_s', 1e-3),
                          ('max_shift', 0.0)):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= low):
                raise ValueError(f'baseline {name} = {value} must be a number >= {low}')
        if self.strength > 1.0:
            raise ValueError(f'baseline strength = {self.strength} must be in [0, 1]')
        return self


class RunningBaseline:
    """One person's running mean of window log-probabilities, weighted by skeleton time."""

    def __init__(self, num_labels: int) -> None:
        self.mean = np.zeros(num_labels, np.float64)
        self.seconds = 0.0  # skeleton time the mean covers
        self.windows = 0
        self._last_stamp: Optional[float] = None

    def update(self, log_probs: np.ndarray, stamp: float, tau_s: float,
               max_step_s: float = 1.0) -> None:
        """Fold in one window ending at `stamp` (seconds); its weight is the time since the
        last one (at most `max_step_s`, so a gap counts as one step, not as minutes seen).
        The first window starts the mean and the clock: `seconds` is the time spanned."""
        if self._last_stamp is None:
            self._last_stamp, self.windows = stamp, 1
            self.mean = np.asarray(log_probs, np.float64).copy()
            return
        step = float(np.clip(stamp - self._last_stamp, 0.0, max_step_s))
        self._last_stamp = stamp
        if step <= 0.0:
            return
        # A plain mean of the windows until tau_s is covered, exponential after.
        weight = max(1.0 / (self.windows + 1), step / tau_s)
        self.mean += weight * (np.asarray(log_probs, np.float64) - self.mean)
        self.seconds += step
        self.windows += 1

    def ready(self, min_s: float) -> bool:
        """Whether enough has been seen to read against it."""
        return self.windows > 0 and self.seconds >= min_s


class PersonBaselines:
    """Baselines by body id, kept `keep_s` after a person was last seen (so one who leaves and
    comes back keeps theirs), never more than `max_people` of them (the least recently seen
    goes first)."""

    def __init__(self, num_labels: int, keep_s: float, max_people: int) -> None:
        if max_people < 1:
            raise ValueError(f'baseline max_people must be >= 1, got {max_people}')
        self.num_labels = int(num_labels)
        self.keep_s = float(keep_s)
        self.max_people = int(max_people)
        self._people: Dict[str, RunningBaseline] = {}
        self._seen: Dict[str, float] = {}  # body id -> node clock when last updated

    def __len__(self) -> int:
        return len(self._people)

    def get(self, body_id: str) -> Optional[RunningBaseline]:
        """The person's baseline, if one is kept."""
        return self._people.get(body_id)

    def update(self, body_id: str, log_probs: np.ndarray, stamp: float, now: float,
               tau_s: float) -> RunningBaseline:
        """Fold a window into the person's baseline (created on first use)."""
        baseline = self._people.get(body_id)
        if baseline is None:
            if len(self._people) >= self.max_people:
                oldest = min(self._seen, key=self._seen.__getitem__)
                self.reset(oldest)
            baseline = self._people[body_id] = RunningBaseline(self.num_labels)
        self._seen[body_id] = now
        baseline.update(log_probs, stamp, tau_s)
        return baseline

    def forget_stale(self, now: float) -> List[str]:
        """Drop the baselines of people not seen for keep_s; return their ids."""
        stale = [b for b, t in self._seen.items() if now - t > self.keep_s]
        for body_id in stale:
            self.reset(body_id)
        return stale

    def reset(self, body_id: Optional[str] = None) -> int:
        """Forget one person's baseline (None: everyone's); return how many were forgotten."""
        ids = list(self._people) if body_id is None else \
            [body_id] if body_id in self._people else []
        for b in ids:
            self._people.pop(b, None)
            self._seen.pop(b, None)
        return len(ids)

    def ready_count(self, min_s: float) -> int:
        """How many people have a baseline old enough to read against."""
        return sum(b.ready(min_s) for b in self._people.values())
