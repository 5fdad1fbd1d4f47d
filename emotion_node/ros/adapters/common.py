"""What the tracker adapters share: one message's bodies screened and converted, and a canonical
body written in a tracker's layout (for the builders)."""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import numpy as np

from emotion_node.ros.convert import BodyFrame, Rejection, _screen_ids
from emotion_node.skeleton.layouts import CANONICAL_INDEX, Layout


def convert_bodies(ids: Sequence[str], max_bodies: Optional[int],
                   convert: Callable[[int], Union[BodyFrame, Rejection]],
                   ) -> tuple[list[BodyFrame], list[Rejection]]:
    """Screen a message's body ids (missing, duplicate, beyond max_bodies), then convert each
    body kept by its index; return the frames and every rejection."""
    keep, rejections = _screen_ids(ids, max_bodies)
    frames: list[BodyFrame] = []
    for i in keep:
        out = convert(i)
        if isinstance(out, Rejection):
            rejections.append(out)
        else:
            frames.append(out)
    return frames, rejections


def layout_points(body: BodyFrame, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """A canonical body in `layout` order: (J, 3) float32 positions, NaN where unseen, and (J,)
    whether each joint is seen.

    Every layout joint that stands for a canonical joint gets that joint's position, so joints
    whose mean gives a canonical joint (both ears for the head) give it back exactly; joints
    with no canonical counterpart (nose, hands, heels) are unseen.
    """
    positions = np.full((len(layout.joints), 3), np.nan, np.float32)
    seen = np.zeros(len(layout.joints), bool)
    for j, name in enumerate(layout.joints):
        target = layout.canonical.get(name)
        if target is not None and body.mask[CANONICAL_INDEX[target]]:
            positions[j] = body.positions[CANONICAL_INDEX[target]]
            seen[j] = True
    return positions, seen
