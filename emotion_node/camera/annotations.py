"""Hand annotations of who is in view in a video, and how well a run of the pipeline followed
them: the share of each person's frames in which one id followed them, and id changes."""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple


@dataclass(frozen=True)
class Interval:
    """Seconds [start_s, end_s] of a video, both whole seconds included."""

    who: str  # a person's number, or 'empty' (nobody in view)
    start_s: float
    end_s: float

    def holds(self, t: float) -> bool:
        return self.start_s <= t < self.end_s + 1.0


def annotations_of(video: Path) -> Path:
    """Where a video's hand annotations lie: `<name>.people.csv` beside it."""
    return Path(video).with_name(Path(video).stem + '.people.csv')


def read_intervals(path: Path) -> List[Interval]:
    """`person,start_s,end_s` rows (lines starting with # are comments)."""
    with open(path, newline='') as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith('#')))
    out = [Interval(r['person'], float(r['start_s']), float(r['end_s'])) for r in rows]
    bad = [i for i in out if i.end_s < i.start_s]
    if bad:
        raise ValueError(f'{path}: intervals ending before they start: {bad}')
    return out


@dataclass(frozen=True)
class PersonScore:
    """How one annotated person was followed."""

    who: str
    frames: int         # frames in which they were fully in view
    followed: int       # ... in which their main id was published
    main_id: str        # the id published most often over their interval
    ids: Tuple[str, ...]  # every id published over their interval

    @property
    def share(self) -> float:
        return self.followed / self.frames if self.frames else 0.0


def score(frames: Sequence[Tuple[float, Sequence[str]]], intervals: Sequence[Interval]
          ) -> Tuple[Dict[str, PersonScore], float]:
    """(person -> score, share of frames of `empty` intervals with anyone published).

    `frames`: (seconds into the video, ids published for that image), one per image.
    """
    scores: Dict[str, PersonScore] = {}
    empty = [ids for t, ids in frames if any(i.who == 'empty' and i.holds(t) for i in intervals)]
    for interval in (i for i in intervals if i.who != 'empty'):
        inside = [ids for t, ids in frames if interval.holds(t)]
        counts = Counter(body for ids in inside for body in ids)
        main = counts.most_common(1)[0][0] if counts else ''
        followed = sum(main in ids for ids in inside) if main else 0
        scores[interval.who] = PersonScore(interval.who, len(inside), followed, main,
                                           tuple(sorted(counts)))
    false_share = sum(bool(ids) for ids in empty) / len(empty) if empty else 0.0
    return scores, false_share
