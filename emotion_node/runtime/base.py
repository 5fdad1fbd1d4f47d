"""The one interface every tokenizer backend implements, its result and its error.

A backend runs preprocessed windows of B persons (`infer(x, mask)`), numpy in and numpy out;
`emotion_node.runtime.backends` holds the PyTorch, ONNX Runtime and TensorRT implementations and
picks one. Kept apart from them so that what a backend needs (the TensorRT engine cache, say)
can raise `BackendUnavailable` without importing the backends.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

from emotion_node.model.labels import circumplex_table
from emotion_node.model.model_files import ModelFileError
from emotion_node.skeleton.layouts import NUM_JOINTS


class BackendUnavailable(RuntimeError):
    """A backend cannot run here (library, device or provider missing); the message says why."""


@dataclass(frozen=True)
class InferenceResult:
    """Outputs for one batch of persons; every field is a float32 numpy array."""

    probs: np.ndarray  # (B, C) softmax of logits
    logits: np.ndarray  # (B, C)
    temporal_tokens: np.ndarray  # (B, T', D)
    spatial_tokens: np.ndarray  # (B, P, D)
    semantic_tokens: np.ndarray  # (B, K, D)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)


class TokenizerBackend(abc.ABC):
    """One inference interface: `infer(x, mask)` on preprocessed windows of B persons."""

    name: str = ""
    labels: Tuple[str, ...] = ()
    window_frames: int = 0
    num_joints: int = NUM_JOINTS
    max_batch: Optional[int] = None  # larger batches are split into chunks of this size

    def _set_model_info(self, labels: Sequence[str], window_frames: int, source: Path) -> None:
        """Record labels and window length, checking the labels have circumplex positions (the
        pipeline turns the smoothed scores into valence and arousal)."""
        try:
            circumplex_table(tuple(labels))
        except ValueError as exc:
            raise ModelFileError(f"model labels in {source} lack circumplex positions: {exc}"
                                 ) from exc
        self.labels, self.window_frames = tuple(labels), int(window_frames)

    def infer(self, x: np.ndarray, mask: np.ndarray) -> InferenceResult:
        """Run x (B, T, 21, 3) float32 and mask (B, T, 21) bool; return numpy outputs."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        mask_f = np.ascontiguousarray(mask, dtype=np.float32)  # the graphs take a 0/1 mask
        want = (self.window_frames, self.num_joints)
        if x.ndim != 4 or x.shape[1:] != (*want, 3) or x.shape[0] < 1:
            raise ValueError(f"x must be (B >= 1, {want[0]}, {want[1]}, 3), got {x.shape}")
        if mask_f.shape != x.shape[:3]:
            raise ValueError(f"mask must be {x.shape[:3]} to match x, got {mask_f.shape}")
        step = self.max_batch or x.shape[0]
        chunks = [self._run(x[i:i + step], mask_f[i:i + step])
                  for i in range(0, x.shape[0], step)]
        logits, temporal, spatial, semantic = (
            np.concatenate(parts) if len(chunks) > 1 else parts[0] for parts in zip(*chunks))
        probs = softmax(logits)
        return InferenceResult(probs, logits, temporal, spatial, semantic)

    @abc.abstractmethod
    def _run(self, x: np.ndarray, mask: np.ndarray) -> Sequence[np.ndarray]:
        """Return (logits, temporal, spatial, semantic) float32 arrays for one chunk."""

    def close(self) -> None:  # noqa: B027 - optional: a backend holding nothing keeps this
        """Release what the backend holds (sessions, GPU memory); it is unusable afterwards."""
