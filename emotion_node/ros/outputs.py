"""Output messages, built in one place: EmotionState, RViz text markers and /diagnostics."""
from __future__ import annotations

import math
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Deque, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from emotion_node.msg import EmotionState, PersonEmotion
from emotion_node.ros.convert import split_stamp
from emotion_node.ros.pipeline import PersonResult

# Text colours per label (RGB); unknown labels are white.
LABEL_COLORS: Dict[str, Tuple[float, float, float]] = {
    'neutral': (0.85, 0.85, 0.85), 'happy': (1.0, 0.85, 0.1), 'sad': (0.3, 0.5, 1.0),
    'angry': (1.0, 0.2, 0.15), 'proud': (0.7, 0.35, 1.0), 'not_confident': (0.4, 0.85, 0.85),
    'tired': (0.6, 0.5, 0.4),
}
STATUS_TEXT = {PersonEmotion.STATUS_WARMING_UP: 'warming up', PersonEmotion.STATUS_LOST: 'lost'}
TEXT_HEIGHT_M = 0.15
MARKER_LIFETIME_S = 1.0  # labels fade if the node stops
MAX_PUBLISHERS = 64  # input publishers whose sequence numbers are followed


def to_time(seconds: float) -> Time:
    """Float seconds -> builtin_interfaces/Time (negative or non-finite -> zero)."""
    if not math.isfinite(seconds) or seconds <= 0:
        return Time()
    sec, nanosec = split_stamp(float(seconds))
    return Time(sec=sec, nanosec=nanosec)


def person_message(result: PersonResult, labels: Sequence[str]) -> PersonEmotion:
    """PersonResult -> PersonEmotion."""
    msg = PersonEmotion(body_id=result.body_id, status=int(result.status), label=result.label,
                        confidence=float(result.confidence), labels=list(labels),
                        valence=float(result.valence), arousal=float(result.arousal),
                        window_start=to_time(result.window_start),
                        window_end=to_time(result.window_end),
                        window_frames=int(result.window_frames),
                        valid_joint_fraction=float(result.valid_joint_fraction),
                        explanation=result.explanation,
                        explanation_stamp=to_time(result.explanation_stamp),
                        explainer_label=result.explainer_label,
                        baseline_relative=bool(result.baseline_relative))
    scores = result.scores if result.scores.size else np.zeros(len(labels), np.float32)
    msg.scores = scores.astype(np.float32).tolist()
    return msg


def emotion_state(results: Iterable[PersonResult], labels: Sequence[str], stamp: float,
                  frame_id: str, model_name: str, model_hash: str) -> EmotionState:
    """Build the whole-state message; stamp is the newest skeleton stamp taken in."""
    return EmotionState(header=Header(stamp=to_time(stamp), frame_id=frame_id),
                        persons=[person_message(r, labels) for r in results],
                        model_name=model_name, model_hash=model_hash)


def _label_text(result: PersonResult) -> str:
    """'7: happy 82%', or the status when there is no label."""
    if result.status == PersonEmotion.STATUS_OK and result.label:
        return f'{result.body_id}: {result.label} {result.confidence:.0%}'
    return f'{result.body_id}: {STATUS_TEXT.get(result.status, "?")}'


def text_markers(results: Iterable[PersonResult], stamp: float, frame_id: str,
                 height_m: float, namespace: str = 'emotion') -> MarkerArray:
    """A DELETEALL then one TEXT_VIEW_FACING label above each head that is known."""
    header = Header(stamp=to_time(stamp), frame_id=frame_id)
    markers = [Marker(header=header, ns=namespace, action=Marker.DELETEALL)]
    for i, result in enumerate(results):
        if result.head is None:
            continue
        x, y, z = (float(v) for v in result.head)
        rgb = LABEL_COLORS.get(result.label, (1.0, 1.0, 1.0))
        markers.append(Marker(
            header=header, ns=namespace, id=i, type=Marker.TEXT_VIEW_FACING,
            action=Marker.ADD, text=_label_text(result),
            pose=Pose(position=Point(x=x, y=y, z=z + height_m), orientation=Quaternion(w=1.0)),
            scale=Vector3(z=TEXT_HEIGHT_M), color=ColorRGBA(r=rgb[0], g=rgb[1], b=rgb[2], a=1.0),
            lifetime=Duration(sec=int(MARKER_LIFETIME_S))))
    return MarkerArray(markers=markers)


@dataclass
class NodeStats:
    """Counters and recent timings behind /diagnostics; written by the node's callbacks."""

    received: int = 0  # input messages
    # messages a publisher sent that never reached the node: gaps in its sequence numbers
    # (a DDS history that overflowed while the node was busy, or the network); DDS itself
    # reports none of these
    missed: int = 0
    frames: int = 0  # bodies accepted into buffers
    dropped: int = 0  # messages dropped because the queue was full
    ticks: int = 0
    inferences: int = 0  # ticks that inferred labels
    inference_errors: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> count
    repaired_joints: int = 0  # NaN/inf joints masked in bodies that were kept
    latencies_ms: Deque[float] = field(default_factory=lambda: deque(maxlen=512))  # inference
    node_latencies_ms: Deque[float] = field(default_factory=lambda: deque(maxlen=512))  # in->out
    newest_stamp: float = 0.0
    _rate_mark: Tuple[float, int] = (0.0, 0)
    _last_sequence: Dict[bytes, int] = field(default_factory=dict)  # publisher gid -> number

    def count_sequence(self, publisher: Optional[bytes], sequence: Optional[int]) -> None:
        """Count the messages skipped since this publisher's previous one (its first one
        counts nothing: what it sent before the node subscribed was never the node's). Without
        sequence numbers (an RMW that gives none, or rmw's "unsupported", UINT64_MAX) nothing
        is counted."""
        if publisher is None or sequence is None or sequence >= 2**63:
            return
        last = self._last_sequence.pop(publisher, None)
        if last is not None and sequence > last + 1:
            self.missed += sequence - last - 1
        # Re-inserted last, so the oldest publisher is the first one forgotten.
        self._last_sequence[publisher] = max(sequence, last or 0)
        if len(self._last_sequence) > MAX_PUBLISHERS:
            del self._last_sequence[next(iter(self._last_sequence))]

    def forget_publishers(self) -> None:
        """Start following sequence numbers afresh (on subscribing again: what publishers sent
        while the node was not subscribed was never the node's)."""
        self._last_sequence.clear()

    def input_rate(self) -> float:
        """Input messages per second since the previous call."""
        now_mono = time.monotonic()
        then, count = self._rate_mark
        self._rate_mark = (now_mono, self.received)
        return (self.received - count) / (now_mono - then) if then and now_mono > then else 0.0

    @staticmethod
    def percentiles(values: Deque[float]) -> Tuple[float, float]:
        """(p50, p95) of recent latencies in ms (nan when none)."""
        if not values:
            return math.nan, math.nan
        p50, p95 = np.percentile(np.fromiter(values, float), [50, 95])
        return float(p50), float(p95)


def _level(stats: NodeStats, state: str, persons: int, stamp_age_s: float) -> Tuple[bytes, str]:
    """Overall level and one-line message."""
    if state != 'active':
        return DiagnosticStatus.WARN, f'node is {state}'
    if stats.inference_errors:
        return DiagnosticStatus.ERROR, f'{stats.inference_errors} inference errors'
    if not stats.received:
        return DiagnosticStatus.WARN, 'no input yet'
    if stamp_age_s > 5.0:
        return DiagnosticStatus.WARN, f'newest skeleton is {stamp_age_s:.1f} s old'
    return DiagnosticStatus.OK, f'{persons} persons tracked'


def diagnostics(name: str, stamp: Time, stats: NodeStats, state: str, persons: int,
                backend: str, now: float, extra: Optional[Dict[str, str]] = None
                ) -> DiagnosticArray:
    """Build the /diagnostics message; `now` is node time (s) for the stamp age."""
    p50, p95 = stats.percentiles(stats.latencies_ms)
    n50, n95 = stats.percentiles(stats.node_latencies_ms)
    age = now - stats.newest_stamp if stats.newest_stamp else math.nan
    level, message = _level(stats, state, persons, age if math.isfinite(age) else 0.0)
    values: List[Tuple[str, str]] = [
        ('lifecycle_state', state), ('backend', backend), ('persons', str(persons)),
        ('input_rate_hz', f'{stats.input_rate():.1f}'), ('stamp_age_ms', f'{age * 1e3:.1f}'),
        ('inference_p50_ms', f'{p50:.2f}'), ('inference_p95_ms', f'{p95:.2f}'),
        ('input_to_state_p50_ms', f'{n50:.2f}'), ('input_to_state_p95_ms', f'{n95:.2f}'),
        ('messages_received', str(stats.received)), ('messages_missed', str(stats.missed)),
        ('bodies_accepted', str(stats.frames)),
        ('dropped_queue_full', str(stats.dropped)), ('ticks', str(stats.ticks)),
        ('inferences', str(stats.inferences)),
        ('repaired_joints', str(stats.repaired_joints)),
        ('inference_errors', str(stats.inference_errors)),
        ('rejected_total', str(sum(stats.rejected.values())))]
    values += [(f'rejected.{reason}', str(n)) for reason, n in sorted(stats.rejected.items())]
    values += sorted((extra or {}).items())
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=backend,
                              values=[KeyValue(key=k, value=v) for k, v in values])
    return DiagnosticArray(header=Header(stamp=stamp), status=[status])
