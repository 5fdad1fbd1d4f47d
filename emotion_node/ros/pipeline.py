"""The node's core without ROS: person buffers -> batched inference -> smoothed labels.

`EmotionPipeline` is what the node runs every tick; the benchmark feeds recorded frames through
the same object to measure label flicker with and without smoothing, so both use one code path.

Inference has a rate of its own, in skeleton time: a tick infers everyone with new frames once
the newest stamp has moved on by `1 / rate_hz` since the last inference (or at every tick with
`every_input`); the ticks between only sweep lost people and keep the latest labels. Emotion
changes over seconds, the model sees 15 frames a second, and inferring at the input rate (30 Hz
trackers) would double the work without a new model frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from emotion_node.model.labels import hri_label, valence_arousal
from emotion_node.model.person_baseline import (
    BaselineConfig, PersonBaselines, log_softmax, relative_log_probs)
from emotion_node.ros.params import NodeParams
from emotion_node.ros.people import LOST, OK, WARMING_UP, People, PersonTrack, Window, windows
from emotion_node.ros.smoothing import LabelSmoother, SmoothingConfig
from emotion_node.runtime import loading
from emotion_node.runtime.loading import LoadedModel
from emotion_node.skeleton.preprocess import PreprocessConfig, preprocess_batch

# A frame this share of an inference period early still counts as on time: tracker stamps
# jitter, and 30 Hz stamps in whole nanoseconds fall a hair short of two per 15 Hz period.
SCHEDULE_SLACK = 0.1


@dataclass
class PersonResult:
    """What the node currently believes about one person (becomes a PersonEmotion)."""

    body_id: str
    status: int
    frame_id: str
    label: str = ''  # ROS-facing label; empty while warming up
    style: str = ''  # the model's style name of label
    confidence: float = 0.0
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (C,) smoothed
    valence: float = 0.0
    arousal: float = 0.0
    window_start: float = 0.0
    window_end: float = 0.0
    window_frames: int = 0
    valid_joint_fraction: float = 0.0
    head: Optional[np.ndarray] = None  # (3,) newest head position, tracker frame
    explanation: str = ''
    explanation_stamp: float = 0.0
    explainer_label: str = ''  # ROS-facing label the explainer read itself; '' without one
    baseline_relative: bool = False  # scores read against the person's own baseline


@dataclass
class PersonTokens:
    """The newest tokens and raw window of one person: what an explanation is made from."""

    temporal: np.ndarray  # (T', D)
    spatial: np.ndarray  # (P, D)
    semantic: np.ndarray  # (K, D)
    positions: np.ndarray  # (T, 21, 3) raw canonical metres, model rate
    mask: np.ndarray  # (T, 21)
    window_end: float


@dataclass
class PipelineSettings:
    """The run-time tunable part of the pipeline."""

    min_frames: int = 15
    lost_timeout_s: float = 1.0
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    min_joint_fraction: float = 0.55  # of the canonical joints, over the observed frames
    rate_hz: float = 15.0  # inferences per second of skeleton time
    every_input: bool = False  # infer at every tick instead
    baseline: bool = False  # read each person against their own baseline (people.baseline)
    baseline_config: BaselineConfig = field(default_factory=BaselineConfig)
    baseline_keep_s: float = 300.0

    @classmethod
    def from_params(cls, p: NodeParams) -> 'PipelineSettings':
        """The run-time tunable settings held in the node parameters."""
        return cls(p.window_min_frames, p.people_lost_timeout_s, SmoothingConfig(
            p.smoothing_enabled, p.smoothing_tau_s, p.smoothing_margin, p.smoothing_min_hold_s,
            p.smoothing_neutral_below),
            p.window_min_joint_fraction, p.inference_rate_hz, p.inference_on_input,
            p.people_baseline == 'auto', BaselineConfig(
                p.people_baseline_strength, p.people_baseline_min_s, p.people_baseline_tau_s,
                p.people_baseline_max_shift), p.people_baseline_keep_s)


def load_model(p: NodeParams, logger: Any = None) -> LoadedModel:
    """The model the node's `model.*` parameters name, with `people.max_persons` bounding the
    batch (`emotion_node.runtime.loading.load_model`)."""
    return loading.load_model(Path(p.model_path) if p.model_path else None, p.model_backend,
                              p.model_device, logger, max_persons=p.people_max_persons,
                              fp16=p.model_fp16)


class EmotionPipeline:
    """Buffers frames per person and infers every person with new frames in one batch."""

    def __init__(self, backend: Any, preprocess: PreprocessConfig, max_persons: int,
                 length_s: float, settings: PipelineSettings,
                 population: Optional[np.ndarray] = None,
                 max_baselines: int = 200) -> None:
        model_window = preprocess.window_frames / preprocess.fps
        if length_s < model_window:
            raise ValueError(f'window.length_s = {length_s} is shorter than the model window '
                             f'({preprocess.window_frames} frames at {preprocess.fps} Hz = '
                             f'{model_window:.2f} s)')
        self.backend = backend
        self.preprocess = preprocess
        self.styles: Tuple[str, ...] = tuple(backend.labels)
        self.labels: Tuple[str, ...] = tuple(hri_label(s) for s in self.styles)
        # The class smoothing.neutral_below falls back to (a model without one: no fallback).
        self._neutral = self.styles.index('normal') if 'normal' in self.styles else None
        self.people = People(max_persons, length_s, settings.lost_timeout_s)
        # Person baselines (people.baseline): None when the model records no population mean.
        self.population = None if population is None else np.asarray(population, np.float64)
        self.baselines = PersonBaselines(len(self.styles), settings.baseline_keep_s,
                                         max_baselines)
        self.apply(settings)  # checks and keeps the settings
        self.results: Dict[str, PersonResult] = {}
        self.tokens: Dict[str, PersonTokens] = {}
        self._smoothers: Dict[str, LabelSmoother] = {}
        self.newest_stamp = 0.0  # newest stamp buffered (of the people tracked now)
        self.frame_id = ''
        self.last_batch = 0  # persons inferred by the latest step
        self.inferred = False  # whether the latest step inferred
        self.changed = False  # ... or someone went lost or was removed
        self._next_inference = -math.inf  # skeleton stamp from which inference is due
        self._inferred_at = -math.inf  # newest stamp at the latest inference

    @classmethod
    def from_params(cls, model: 'LoadedModel', p: NodeParams) -> 'EmotionPipeline':
        """The pipeline the node builds from its parameters around a loaded model."""
        return cls(model.backend, model.preprocess, p.people_max_persons, p.window_length_s,
                   PipelineSettings.from_params(p), model.population,
                   p.people_baseline_max_people)

    def apply(self, settings: PipelineSettings) -> None:
        """Take new run-time settings; ValueError when min_frames exceeds the model window or
        min_joint_fraction is not a fraction."""
        if not 1 <= settings.min_frames <= self.preprocess.window_frames:
            raise ValueError(f'window.min_frames = {settings.min_frames} must be in [1, '
                             f'{self.preprocess.window_frames}] (the model window)')
        if not 0.0 <= settings.min_joint_fraction <= 1.0:
            raise ValueError(f'window.min_joint_fraction = {settings.min_joint_fraction} must '
                             f'be in [0, 1]')
        if not (math.isfinite(settings.rate_hz) and settings.rate_hz > 0):
            raise ValueError(f'inference.rate_hz = {settings.rate_hz} must be > 0')
        settings.baseline_config.check()
        if settings.baseline and self.population is None:
            raise ValueError('people.baseline auto needs the population mean the model\'s '
                             'config.json records (training.population_log_probs): run '
                             '`emotion-node train --record-population MODEL_DIR`')
        self.settings = settings
        self.people.lost_timeout_s = settings.lost_timeout_s
        self.baselines.keep_s = settings.baseline_keep_s

    def add(self, frames: Sequence[Any], now: float) -> List[Tuple[str, str]]:
        """Buffer BodyFrames received at node time `now`; return (reason, detail) rejections."""
        rejected = []
        for frame in frames:
            reason = self.people.add(frame.body_id, frame.stamp, frame.positions, frame.mask,
                                     frame.frame_id, now)
            if reason is not None:
                rejected.append((reason, f'body {frame.body_id!r} at stamp {frame.stamp:.3f}'))
        return rejected

    def lose(self, body_ids: List[str]) -> None:
        """People the tracker says it no longer tracks: lost at the next step."""
        self.people.lose(body_ids)

    def step(self, now: float) -> List[PersonResult]:
        """Sweep lost people; when inference is due, infer everyone with new frames in one
        batch; return all results (`inferred` says whether this step inferred, `changed`
        whether it inferred or someone went lost or was removed)."""
        removed = self.people.sweep(now)
        for body_id in removed:
            for table in (self.results, self.tokens, self._smoothers):
                table.pop(body_id, None)
        self.baselines.forget_stale(now)  # a person gone for long is a stranger again
        self.changed = bool(removed)
        stamps = [t.newest_stamp for t in self.people.tracks.values() if t.count]
        if stamps:
            self.newest_stamp = max(stamps)
        self.inferred = bool(stamps) and self._inference_due(self.newest_stamp)
        fresh = []
        for track in self.people.tracks.values():
            if track.status == LOST:
                result = self._result(track)
                self.changed |= result.status != LOST
                result.status = LOST
            elif track.updated:
                fresh.append(track)
        self.changed |= self.inferred
        if not self.inferred:
            self.last_batch = 0
            return [self.results[b] for b in self.people.tracks if b in self.results]
        batch: List[Tuple[PersonTrack, Window]] = [
            (t, w) for t, w in zip(fresh, windows(fresh, self.preprocess)) if w is not None]
        warm = []
        for track, window in batch:
            # Too little of the body seen (legs out of view at close range, a partial tracker
            # layout): warming up rather than a label the model cannot back.
            if window.valid_frames >= self.settings.min_frames and self._joint_fraction(
                    window.mask) >= self.settings.min_joint_fraction:
                warm.append((track, window))
            else:
                self._warming(track, window)
        self.last_batch = len(warm)
        if warm:
            self._infer(warm, now)
        return [self.results[b] for b in self.people.tracks if b in self.results]

    def _inference_due(self, newest: float) -> bool:
        """Whether to infer at this newest stamp; moves the schedule on when it is."""
        if self.settings.every_input:
            return True
        period = 1.0 / self.settings.rate_hz
        slack = SCHEDULE_SLACK * period
        if newest < self._inferred_at:  # stamps went back (a new recording): start over
            self._next_inference = -math.inf
        if newest < self._next_inference - slack:
            return False
        # On the grid while input keeps up (15 Hz from 30 Hz stamps exactly), never bunched
        # after a gap.
        self._next_inference = max(self._next_inference + period, newest + period)
        self._inferred_at = newest
        return True

    def _result(self, track: PersonTrack) -> PersonResult:
        """The person's result entry, created on first use."""
        if track.body_id not in self.results:
            self.results[track.body_id] = PersonResult(track.body_id, WARMING_UP, track.frame_id)
        return self.results[track.body_id]

    def _warming(self, track: PersonTrack, window: Window) -> None:
        """Record a person who has not yet covered enough of the window."""
        result = self._result(track)
        result.status, result.label, result.style, result.confidence = WARMING_UP, '', '', 0.0
        # No label, no reason: an explanation of the label before must not be published with
        # a person warming up again (seen under load, when a body left view and came back).
        result.explanation, result.explanation_stamp, result.explainer_label = '', 0.0, ''
        self._fill_window(result, track, window, window.mask)

    def _fill_window(self, result: PersonResult, track: PersonTrack, window: Window,
                     mask: np.ndarray) -> None:
        """Copy window bookkeeping (stamps, frames, joints, head) into a result."""
        valid = np.flatnonzero(mask.any(axis=1))
        result.window_start = float(window.stamps[valid[0]] if valid.size else window.stamps[-1])
        result.window_end = float(window.stamps[-1])
        result.window_frames = int(window.valid_frames)
        result.valid_joint_fraction = self._joint_fraction(mask)
        result.head, result.frame_id = track.head(), track.frame_id
        self.frame_id = track.frame_id or self.frame_id

    def _joint_fraction(self, mask: np.ndarray) -> float:
        """Mean fraction of the canonical joints observed in the (T, 21) window's observed
        frames (those with a pose: not the empty start of a buffer still filling)."""
        frames = mask.sum(axis=1) >= max(1, self.preprocess.min_valid_joints)  # (T,)
        return float(mask[frames].mean()) if frames.any() else 0.0

    def _infer(self, batch: List[Tuple[PersonTrack, Window]], now: float) -> None:
        """Preprocess, run the backend once for the whole batch and smooth each person."""
        positions = np.stack([w.positions for _, w in batch])  # (B, T, 21, 3)
        masks = np.stack([w.mask for _, w in batch])  # (B, T, 21)
        x, m = preprocess_batch(positions, masks, self.preprocess)
        out = self.backend.infer(x, m)
        # The baseline's space, for the whole batch at once (None with baselines off).
        log_probs = log_softmax(out.logits) if self.settings.baseline else None
        for i, (track, window) in enumerate(batch):
            smoother = self._smoothers.get(track.body_id)
            if smoother is None:
                smoother = self._smoothers[track.body_id] = LabelSmoother(
                    len(self.styles), self._neutral)
            probs, relative = self._read(track.body_id, out.probs[i],
                                         None if log_probs is None else log_probs[i],
                                         float(window.stamps[-1]), now)
            index, confidence = smoother.update(probs, window.stamps[-1],
                                                self.settings.smoothing)
            assert smoother.scores is not None, 'set by the update'
            scores = smoother.scores.astype(np.float32)  # (C,)
            va = valence_arousal(scores, self.styles)  # (2,)
            result = self._result(track)
            track.status = result.status = OK
            result.style, result.label = self.styles[index], self.labels[index]
            result.confidence, result.scores = confidence, scores
            result.baseline_relative = relative
            result.valence, result.arousal = float(va[0]), float(va[1])
            self._fill_window(result, track, window, m[i])
            self.tokens[track.body_id] = PersonTokens(
                out.temporal_tokens[i], out.spatial_tokens[i], out.semantic_tokens[i],
                window.positions, m[i], float(window.stamps[-1]))

    def _read(self, body_id: str, probs: np.ndarray, log_probs: Optional[np.ndarray],
              stamp: float, now: float) -> Tuple[np.ndarray, bool]:
        """A window's probabilities as the node reads them: against the person's baseline once
        it is old enough (and whether it was), then the window folded into the baseline;
        unchanged without `log_probs` (baselines off)."""
        if log_probs is None or self.population is None:
            return probs, False
        cfg = self.settings.baseline_config
        held = self.baselines.get(body_id)
        relative = held is not None and held.ready(cfg.min_s)
        if relative:
            assert held is not None, 'checked above'
            probs = np.exp(relative_log_probs(log_probs, held.mean, self.population,
                                              cfg.strength, cfg.max_shift))
        self.baselines.update(body_id, log_probs, stamp, now, cfg.tau_s)
        return probs, relative

    def reset_baselines(self, body_id: Optional[str] = None) -> int:
        """Forget one person's baseline (None: everyone's); return how many were forgotten."""
        return self.baselines.reset(body_id)

    def set_explanation(self, body_id: str, text: str, stamp: float, reading: str = '') -> bool:
        """Attach an explanation and the explainer's own reading (a style, '' for none) to a
        person still tracked; False when they are gone."""
        result = self.results.get(body_id)
        if result is None:
            return False
        result.explanation, result.explanation_stamp = text, float(stamp)
        result.explainer_label = hri_label(reading) if reading else ''
        return True
