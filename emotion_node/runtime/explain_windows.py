"""Label and explain windows of one person offline, the way the node does for a live person.

The tokenizer backend labels each window; the explainer reads the window itself and explains
that label from the window's skeleton tokens and its measured cues (`answers.answer_batch`, the
node's request); the checker counts how many of the explanation's movement claims the cues
support. The `explain` command runs this on a BVH file.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from emotion_node.model.answers import answer_batch
from emotion_node.model.explanations import check_explanation
from emotion_node.model.labels import hri_label
from emotion_node.skeleton.cues import span_cues_batch
from emotion_node.skeleton.preprocess import PreprocessConfig, preprocess_batch

if TYPE_CHECKING:
    from emotion_node.model.explainer import Explainer
    from emotion_node.runtime.base import TokenizerBackend


def explain_windows(windows: np.ndarray, masks: np.ndarray, backend: TokenizerBackend,
                    explainer: Explainer, preprocess: PreprocessConfig, hints: bool = True,
                    batch_size: int = 8) -> list[dict[str, Any]]:
    """Label and explain raw canonical windows (W, T, 21, 3) metres at `preprocess.fps`.

    Returns one dict per window: label, hri_label, confidence, the explainer's own reading,
    explanation, and how many of its movement claims the measured cues support.
    """
    windows, masks = np.asarray(windows, np.float32), np.asarray(masks, bool)
    if windows.ndim != 4 or masks.shape != windows.shape[:3]:
        raise ValueError(f"expected windows (W, T, 21, 3) and masks (W, T, 21), got "
                         f"{windows.shape} and {masks.shape}")
    x, m = preprocess_batch(windows, masks, preprocess)
    result = backend.infer(x, m)
    cues = span_cues_batch(windows, masks, preprocess.fps)  # (W, 3, 7): window and halves
    labels = [backend.labels[i] for i in result.probs.argmax(-1)]
    rows = []
    for start in range(0, len(labels), batch_size):
        idx = list(range(start, min(start + batch_size, len(labels))))
        zs = [explainer.zscores(cues[i]) for i in idx]  # action unknown: global reference
        tokens = tuple(t[idx] for t in (
            result.temporal_tokens, result.spatial_tokens, result.semantic_tokens))
        answers = answer_batch(explainer, tokens, [labels[i] for i in idx],
                               [z if hints else None for z in zs], seed=start)
        for i, z, answer in zip(idx, zs, answers):
            check = check_explanation(answer.text, labels[i], z)
            rows.append({"window": i, "label": labels[i], "hri_label": hri_label(labels[i]),
                         "confidence": round(float(result.probs[i].max()), 4),
                         "reading": answer.reading, "explanation": answer.text,
                         "claims": check.claims, "claims_supported": check.held})
    return rows
