"""Text descriptions of motion windows (style + measured cues) for semantic alignment.

A cue is put into words only when it departs from how the neutral (`normal`) style performs the
same action: z-scores use the neutral mean of that action and the pooled neutral spread, so
"moves fast" means fast for this action, not "this is a dash".

These captions only teach the tokenizer (stage 1 of `train_tokenizer`), and its committed
weights were trained on exactly these words and statistics. The words the explainer may say,
and the reference its faithfulness is checked against, live in `explanations.py`
(`CUE_PHRASES`, `CueReference`); changing either set retrains only its own model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import warnings

import numpy as np

from emotion_node.skeleton.cues import CUE_NAMES

STYLE_PHRASES: Dict[str, str] = {
    "normal": "A person moving in a calm, neutral way.",
    "happy": "A happy, cheerful person.",
    "sad": "A sad, downcast person.",
    "angry": "An angry, irritated person.",
    "proud": "A proud, self-confident person.",
    "not-confident": "An insecure, timid person lacking confidence.",
    "tired": "A tired, exhausted person.",
    "active": "An energetic, lively person.",
    "childish": "A person moving like a playful child.",
    "chimpira": "A swaggering, thuggish street punk.",
    "feminine": "A person moving in a graceful, feminine way.",
    "giant": "A huge, heavy giant lumbering.",
    "masculinity": "A person moving in a strong, masculine way.",
    "musical": "A theatrical person moving like in a musical.",
    "old": "An elderly, frail person.",
    # Dataset 2's own style names (its normal, active and feminine read as above).
    "exhausted": "A tired, exhausted person.",
    "elderly": "An elderly, frail person.",
    "masculine": "A person moving in a strong, masculine way.",
    "youthful": "A youthful, lively person.",
    # Emotion-Gait's and a lab's word for normal.
    "neutral": "A person moving in a calm, neutral way.",
}

# (phrase when the cue is low, phrase when high), relative to neutral.
CUE_PHRASES: Dict[str, Tuple[str, str]] = {
    "speed": ("moves slowly", "moves fast"),
    "arm_swing": ("keeps the arms still", "swings the arms widely"),
    "head_pitch": ("holds the head high", "hangs the head down"),
    "expansion": ("keeps a closed, contracted posture", "takes an open, expansive posture"),
    "jerkiness": ("moves smoothly", "moves jerkily and abruptly"),
    "bounce": ("barely bounces", "bounces up and down"),
    "tempo": ("moves to a slow rhythm", "moves to a quick rhythm"),
}
NEUTRAL_TEXT = "Its movement looks ordinary."


@dataclass
class NeutralStats:
    """Per-action neutral cue means and the pooled neutral spread, in CUE_NAMES order."""

    means: Dict[str, np.ndarray]  # content -> (7,)
    spread: np.ndarray            # (7,)


def neutral_stats(cues: Sequence[np.ndarray], contents: Sequence[str],
                  styles: Sequence[str], neutral: str = "normal") -> NeutralStats:
    """Fit neutral statistics from per-clip cue arrays (W_i, 7) of neutral-style clips."""
    by_content: Dict[str, list] = {}
    for arr, content, style in zip(cues, contents, styles):
        if style == neutral and len(arr):
            by_content.setdefault(content, []).append(np.asarray(arr, np.float64))
    if not by_content:
        raise ValueError(f"no clips of the neutral style {neutral!r} to fit cue statistics")
    means, residuals = {}, []
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan cue columns stay nan
        for content, arrays in by_content.items():
            stacked = np.concatenate(arrays)
            means[content] = np.nanmean(stacked, axis=0)
            residuals.append(stacked - means[content])
        spread = np.nanstd(np.concatenate(residuals), axis=0)
        # Floor: a near-constant neutral cue should not turn tiny differences into words.
        typical = np.nanmean(np.abs(np.stack(list(means.values()))), axis=0)
    spread = np.maximum(np.nan_to_num(spread), 0.1 * np.nan_to_num(typical) + 1e-6)
    return NeutralStats(means, spread)


def cue_levels(cues: np.ndarray, content: str, stats: NeutralStats,
               threshold: float = 1.0) -> np.ndarray:
    """(7,) int levels -1 (low), 0 (like neutral), +1 (high); 0 where unknown."""
    mean = stats.means.get(content)
    if mean is None:  # an action without neutral reference: use the average neutral action
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(np.stack(list(stats.means.values())), axis=0)
    z = (np.asarray(cues, np.float64) - mean) / stats.spread
    z = np.nan_to_num(z, nan=0.0)
    return np.where(z > threshold, 1, np.where(z < -threshold, -1, 0)).astype(np.int64)


def describe(style: str, levels: np.ndarray) -> str:
    """One or two sentences: the style and the cues that depart from neutral."""
    if style not in STYLE_PHRASES:
        raise ValueError(f"no description for style {style!r}")
    parts = [CUE_PHRASES[name][0 if lvl < 0 else 1]
             for name, lvl in zip(CUE_NAMES, levels) if lvl != 0]
    if not parts:
        return f"{STYLE_PHRASES[style]} {NEUTRAL_TEXT}"
    cues = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{STYLE_PHRASES[style]} It {cues}."
