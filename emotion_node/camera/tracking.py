"""Person ids across frames: each new image's people matched to the last frame's by box overlap.

The pose graph tracks each person's region from frame to frame but reports people in no fixed
order and without ids; this gives each one a stable id while their boxes keep overlapping. A
person unmatched for `max_missed` frames is forgotten; whoever appears later gets a new id.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

import numpy as np


@dataclass
class _Track:
    body_id: str
    box: np.ndarray  # (4,) x0, y0, x1, y1 pixels
    missed: int = 0


@dataclass
class PersonTracker:
    """Greedy box matching, highest overlap first."""

    min_iou: float = 0.2
    max_missed: int = 5
    prefix: str = 'cam_'
    _tracks: List[_Track] = field(default_factory=list, init=False)
    _next: int = field(default=1, init=False)

    def assign(self, boxes: List[np.ndarray]) -> List[str]:
        """An id per box, in the boxes' order."""
        ids: List[str] = [''] * len(boxes)
        pairs = sorted(((iou(box, t.box), b, k) for b, box in enumerate(boxes)
                        for k, t in enumerate(self._tracks)), reverse=True)
        matched = set()
        for overlap, b, k in pairs:
            if overlap < self.min_iou:
                break
            if ids[b] or k in matched:
                continue
            ids[b] = self._tracks[k].body_id
            self._tracks[k].box, self._tracks[k].missed = boxes[b], 0
            matched.add(k)
        for k, track in enumerate(self._tracks):
            if k not in matched:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        for b, box in enumerate(boxes):
            if not ids[b]:
                ids[b] = f'{self.prefix}{self._next}'
                self._next += 1
                self._tracks.append(_Track(ids[b], box))
        return ids

    @property
    def active(self) -> int:
        """People currently followed (seen within max_missed frames)."""
        return len(self._tracks)


def box_of(image_xy: np.ndarray, visibility: np.ndarray, min_visibility: float = 0.5
           ) -> np.ndarray:
    """(4,) bounding box of the visible landmarks (all of them when too few are visible)."""
    points = image_xy[visibility >= min_visibility]
    if len(points) < 2:
        points = image_xy
    return np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float64)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
