"""Each emotion's typical movement signature: which cue departs from neutral motion, which way.

After the gait and body-expression literature: Montepare et al. 1987 (gait: sad walkers swing
the arms less; angry ones walk heavy-footed; happy ones walk faster), Wallbott 1998 (movement
activity, expansiveness and dynamics are high in hot anger and elated joy, low in sadness; the
head is bent in sadness and shame and raised in pride), Roether et al. 2009 (walking speed and
movement amplitude rise in happiness and anger and fall in sadness and fear; the head inclines in
sadness). Tiredness is not among the emotions these studies acted; its entry is the low-arousal,
low-dynamics pattern they report for sadness (slow, small, head lowered) without the posture of
shame. Directions are signs of a cue's z-score (`explanations.CueReference`): +1 above the same
action's neutral motion, -1 below; for `head_pitch` +1 is the head lowered.

| emotion | speed | arm_swing | head_pitch | expansion | jerkiness | bounce | tempo |
| --- | --- | --- | --- | --- | --- | --- | --- |
| neutral | any departure runs against it |
| happy | + faster | + wide | | + open | | + bouncy | + quick |
| sad | - slower | - still | + lowered | - closed | - smooth | - level | - slow |
| angry | + faster | + wide | | + open | + abrupt | | |
| proud | | | - raised | + open | | | |
| not confident | - slower | | + lowered | - closed | | | |
| tired | - slower | - still | + lowered | | - smooth | - level | - slow |

A cue the table leaves blank says nothing about that emotion either way. An explanation may give
a supporting cue as a reason; a cue against the signature must be left out or named as contrary
("although ..."); the checker counts a claim against it that is not so marked as a silent clash.
"""
from __future__ import annotations

from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.skeleton.cues import CUE_NAMES

# emotion style -> {cue: direction}. `normal` has none: neutral motion is the reference itself,
# so every salient departure from it runs against a neutral reading.
SIGNATURES: dict[str, dict[str, int]] = {
    "normal": {},
    "happy": {"speed": 1, "arm_swing": 1, "expansion": 1, "bounce": 1, "tempo": 1},
    "sad": {"speed": -1, "arm_swing": -1, "head_pitch": 1, "expansion": -1, "jerkiness": -1,
            "bounce": -1, "tempo": -1},
    "angry": {"speed": 1, "arm_swing": 1, "expansion": 1, "jerkiness": 1},
    "proud": {"head_pitch": -1, "expansion": 1},
    "not-confident": {"speed": -1, "head_pitch": 1, "expansion": -1},
    "tired": {"speed": -1, "arm_swing": -1, "head_pitch": 1, "jerkiness": -1, "bounce": -1,
              "tempo": -1},
}
assert set(SIGNATURES) == set(EMOTION_STYLES)
assert all(set(s) <= set(CUE_NAMES) for s in SIGNATURES.values())

SUPPORTS, UNRELATED, AGAINST = 1, 0, -1


def relation(style: str, cue: str, direction: int) -> int:
    """SUPPORTS, AGAINST or UNRELATED: how a cue departing in `direction` bears on `style`."""
    if style not in SIGNATURES:
        raise ValueError(f"unknown emotion style {style!r}; expected one of {EMOTION_STYLES}")
    if cue not in CUE_NAMES:
        raise ValueError(f"unknown cue {cue!r}; expected one of {CUE_NAMES}")
    if style == "normal":
        return AGAINST
    expected = SIGNATURES[style].get(cue)
    if expected is None:
        return UNRELATED
    return SUPPORTS if expected == direction else AGAINST
