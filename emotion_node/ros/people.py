"""Tracked people: one ring buffer of canonical frames per body id, with its status.

A person is warming up until enough of the model window is covered, then ok; when not seen for
the lost timeout they are reported lost once and then removed. The table never holds more than
`max_persons` people, whatever ids arrive, so memory stays bounded.

Stamps that do not move forward (one stale frame keeps a person's window, a new recording
replaces it):
- a frame at or behind the person's newest stamp is dropped and counted (`stamp_backwards`):
  an out-of-order or replayed frame, a second camera with a skewed clock;
- a jump back of more than RESET_JUMP_S restarts the buffer only when it persists: the
  RESET_AFTER_FRAMES-th frame in a row that far behind, in order among themselves (a bag loop
  or a clock reset, where every following frame is behind too) starts a new window; the ones
  before it were dropped and counted;
- a jump forward by more than the lost timeout starts a fresh window: the motion in between
  was not seen, and interpolating across the gap would invent it.
Restarts are counted per direction (`buffer_resets_back`, `buffer_resets_forward`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from emotion_node.skeleton.layouts import CANONICAL_INDEX, NUM_JOINTS
from emotion_node.skeleton.preprocess import PreprocessConfig, resample

WARMING_UP, OK, LOST = 0, 1, 2  # the PersonEmotion.STATUS_* values
STAMP_BACKWARDS = 'stamp_backwards'
TOO_MANY_PERSONS = 'too_many_persons'
RESET_JUMP_S = 1.0  # frames further back than this may be a new recording ...
RESET_AFTER_FRAMES = 3  # ... once this many come in a row (see the module docstring)
MAX_INPUT_HZ = 60.0  # buffers hold window_length_s at up to this input rate
# Joints tried, in order, for where a person's head is (text labels go above it).
_HEAD_JOINTS = tuple(CANONICAL_INDEX[n] for n in ('head', 'neck', 'chest'))


@dataclass
class Window:
    """One person's model-rate window, resampled from their buffer by timestamps."""

    positions: np.ndarray  # (T, 21, 3) raw canonical metres
    mask: np.ndarray  # (T, 21) bool; frames before the first sample are masked
    stamps: np.ndarray  # (T,) seconds
    valid_frames: int  # frames with at least one valid joint


class PersonTrack:
    """A ring buffer of one body's frames (stamps, positions, masks) and its status."""

    def __init__(self, body_id: str, capacity: int, length_s: float) -> None:
        if capacity < 2:
            raise ValueError(f'PersonTrack capacity must be >= 2, got {capacity}')
        self.body_id = body_id
        self.length_s = float(length_s)
        self._stamps = np.zeros(capacity, np.float64)  # (N,)
        self._positions = np.zeros((capacity, NUM_JOINTS, 3), np.float32)  # (N, 21, 3)
        self._mask = np.zeros((capacity, NUM_JOINTS), bool)  # (N, 21)
        self._next = 0
        self._count = 0
        self.status = WARMING_UP
        self.last_seen = -math.inf  # node clock (s) when a frame last arrived
        self.frame_id = ''
        self.updated = False  # new frames since the last window was taken
        self.restarts_back = 0  # buffer restarts after a lasting jump back in time
        self.restarts_forward = 0  # ... after a jump forward beyond the gap allowed
        self._behind: List[float] = []  # stamps of the latest frames in a row far behind

    @property
    def count(self) -> int:
        """Number of frames held."""
        return self._count

    @property
    def newest_stamp(self) -> float:
        """Stamp of the newest frame (-inf when empty)."""
        return float(self._stamps[self._next - 1]) if self._count else -math.inf

    def add(self, stamp: float, positions: np.ndarray, mask: np.ndarray, frame_id: str,
            now: float, max_gap_s: float = math.inf) -> Optional[str]:
        """Append one frame; return a rejection reason for a stamp that does not move forward
        (the policy in the module docstring; `max_gap_s`: a jump forward beyond it starts a
        fresh window)."""
        newest = self.newest_stamp
        if stamp <= newest:
            if newest - stamp <= RESET_JUMP_S:
                self._behind.clear()  # near the newest: reordering, not a new recording
                return STAMP_BACKWARDS
            if not self._jump_back_persists(stamp):
                return STAMP_BACKWARDS
            self.clear()  # a lasting jump back (bag loop, clock reset): a new recording
            self.restarts_back += 1
        elif self._count and stamp - newest > max_gap_s:
            self.clear()  # nothing seen in between: a fresh window, not an interpolated one
            self.restarts_forward += 1
        self._behind.clear()
        self._stamps[self._next] = stamp
        self._positions[self._next] = positions
        self._mask[self._next] = mask
        self._next = (self._next + 1) % len(self._stamps)
        self._count = min(self._count + 1, len(self._stamps))
        self.last_seen, self.frame_id, self.updated = now, frame_id, True
        if self.status == LOST:
            self.status = WARMING_UP  # seen again before removal
        return None

    def _jump_back_persists(self, stamp: float) -> bool:
        """Note one more frame far behind; True when it is the RESET_AFTER_FRAMES-th in a row
        and they are in order (strays from another time are not)."""
        if self._behind and stamp <= self._behind[-1]:
            self._behind.clear()
        self._behind.append(stamp)
        return len(self._behind) >= RESET_AFTER_FRAMES

    def clear(self) -> None:
        """Forget every frame (the status is recomputed from the next window)."""
        self._count, self._next = 0, 0
        self._behind.clear()

    def samples(self, span_s: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frames covering span_s (default length_s) before the newest, oldest first.

        One frame older than the span is included, so interpolation at the span's start works.
        """
        order = (np.arange(self._count) + self._next - self._count) % len(self._stamps)
        stamps = self._stamps[order]  # (N,)
        span = self.length_s if span_s is None else min(span_s, self.length_s)
        first = max(0, int(np.searchsorted(stamps, stamps[-1] - span, side='right')) - 1) \
            if self._count else 0
        while first < len(stamps) and stamps[-1] - stamps[first] > self.length_s:
            first += 1  # never older than length_s
        order = order[first:]
        return self._stamps[order], self._positions[order], self._mask[order]

    def window(self, config: PreprocessConfig) -> Optional[Window]:
        """Resample the buffer onto the model rate, ending at the newest stamp; None if empty."""
        return windows([self], config)[0]

    def head(self) -> Optional[np.ndarray]:
        """Newest head position (3,) (else neck, else chest); None when none is valid."""
        if not self._count:
            return None
        last = (self._next - 1) % len(self._stamps)
        for joint in _HEAD_JOINTS:
            if self._mask[last, joint]:
                return self._positions[last, joint].astype(np.float64)
        return None


def windows(tracks: List[PersonTrack], config: PreprocessConfig) -> List[Optional[Window]]:
    """Model-rate windows of several people (None for an empty buffer).

    People whose buffers hold the same stamps (one tracker seeing them in the same frames) are
    resampled in one call, stacked along the joint axis: resampling treats every joint on its
    own, so this gives exactly the per-person result for a fraction of the calls.
    """
    groups: Dict[bytes, List[Tuple[int, np.ndarray, np.ndarray, np.ndarray]]] = {}
    span = (config.window_frames - 1) / config.fps  # what one model window covers
    for i, track in enumerate(tracks):
        if track.count:
            stamps, positions, mask = track.samples(span)
            groups.setdefault(stamps.tobytes(), []).append((i, stamps, positions, mask))
    out: List[Optional[Window]] = [None] * len(tracks)
    for members in groups.values():
        positions = np.concatenate([m[2] for m in members], axis=1)  # (N, G*21, 3)
        mask = np.concatenate([m[3] for m in members], axis=1)  # (N, G*21)
        pos, msk, stamps = resample(members[0][1], positions, mask, config.fps,
                                    config.window_frames)
        for g, (i, _, _, _) in enumerate(members):
            joints = slice(g * NUM_JOINTS, (g + 1) * NUM_JOINTS)
            valid = int((msk[:, joints].sum(axis=1) >= max(1, config.min_valid_joints)).sum())
            out[i] = Window(pos[:, joints], msk[:, joints], stamps, valid)
            tracks[i].updated = False
    return out


class People:
    """Every tracked person by body id, bounded by max_persons."""

    def __init__(self, max_persons: int, length_s: float, lost_timeout_s: float) -> None:
        if max_persons < 1:
            raise ValueError(f'max_persons must be >= 1, got {max_persons}')
        self.max_persons = int(max_persons)
        self.length_s = float(length_s)
        self.lost_timeout_s = float(lost_timeout_s)
        self.capacity = max(8, int(math.ceil(self.length_s * MAX_INPUT_HZ)) + 1)
        self.tracks: Dict[str, PersonTrack] = {}
        self.restarts_back = 0  # buffer restarts (module docstring), over every person
        self.restarts_forward = 0

    def __len__(self) -> int:
        return len(self.tracks)

    def add(self, body_id: str, stamp: float, positions: np.ndarray, mask: np.ndarray,
            frame_id: str, now: float) -> Optional[str]:
        """Add one body's frame; return a rejection reason, or None when it was kept."""
        track = self.tracks.get(body_id)
        if track is None:
            if len(self.tracks) >= self.max_persons:
                return TOO_MANY_PERSONS
            track = self.tracks[body_id] = PersonTrack(body_id, self.capacity, self.length_s)
        back, forward = track.restarts_back, track.restarts_forward
        reason = track.add(stamp, positions, mask, frame_id, now, self.lost_timeout_s)
        self.restarts_back += track.restarts_back - back
        self.restarts_forward += track.restarts_forward - forward
        return reason

    def lose(self, body_ids: List[str]) -> None:
        """The tracker dropped these people: the next sweep reports them lost, as a timeout
        would, without waiting for one."""
        for body_id in body_ids:
            if body_id in self.tracks:
                self.tracks[body_id].last_seen = -math.inf

    def sweep(self, now: float) -> List[str]:
        """Remove people reported lost last time, mark timed-out ones lost; return the removed."""
        removed = [b for b, t in self.tracks.items() if t.status == LOST]
        for body_id in removed:
            del self.tracks[body_id]
        for track in self.tracks.values():
            age = now - track.last_seen
            if age < -self.lost_timeout_s:
                track.last_seen = now  # the clock jumped back (sim time restarted)
            elif age > self.lost_timeout_s:
                track.status = LOST
        return removed
