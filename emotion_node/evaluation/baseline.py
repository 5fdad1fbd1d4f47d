"""Baseline: hand-made kinematic features of a window and multinomial logistic regression."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from emotion_node.skeleton.cues import cues_batch
from emotion_node.skeleton.layouts import CANONICAL_INDEX as _I

_POSTURE_JOINTS = ("head", "neck", "wrist_l", "wrist_r", "elbow_l", "elbow_r", "chest")
_MOTION_JOINTS = ("head", "wrist_l", "wrist_r", "pelvis", "ankle_l", "ankle_r")


def _masked_mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mean over axis 1 of (W, T, ...) where valid (W, T, ...); nan when nothing is valid."""
    num = np.where(valid, values, 0.0).sum(axis=1)
    den = valid.sum(axis=1)
    return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def posture_motion_features(x: np.ndarray, mask: np.ndarray, fps: float) -> np.ndarray:
    """(W, F) features of normalised windows: heights, lean, openness, speeds, amplitudes."""
    feats = []
    for name in _POSTURE_JOINTS:  # mean height and forwardness relative to the window root
        j = _I[name]
        feats += [_masked_mean(x[:, :, j, 2], mask[:, :, j]),
                  _masked_mean(x[:, :, j, 0], mask[:, :, j])]
    for name in ("wrist_l", "wrist_r", "elbow_l", "elbow_r"):  # lateral openness
        j = _I[name]
        feats.append(_masked_mean(np.abs(x[:, :, j, 1]), mask[:, :, j]))
    both = mask[:, 1:] & mask[:, :-1]
    speed = np.linalg.norm(np.diff(x, axis=1), axis=-1) * fps  # (W, T-1, J)
    for name in _MOTION_JOINTS:
        j = _I[name]
        feats.append(_masked_mean(speed[:, :, j], both[:, :, j]))
        spread = np.where(mask[:, :, j, None], x[:, :, j], np.nan)
        with np.errstate(invalid="ignore"):
            feats.append(np.nanstd(spread, axis=1).sum(axis=-1))  # motion amplitude
    head, neck = _I["head"], _I["neck"]
    tilt = x[:, :, head] - x[:, :, neck]  # head pitch in the normalised frame
    feats.append(_masked_mean(np.arctan2(tilt[..., 0], tilt[..., 2]),
                              mask[:, :, head] & mask[:, :, neck]))
    return np.stack(feats, axis=1).astype(np.float32)


def baseline_features(x: np.ndarray, mask: np.ndarray, raw: np.ndarray, raw_mask: np.ndarray,
                      fps: float) -> np.ndarray:
    """Posture/motion features of normalised windows plus the 7 kinematic cues of raw ones."""
    return np.concatenate([posture_motion_features(x, mask, fps),
                           cues_batch(raw, raw_mask, fps)], axis=1)


@dataclass
class LogisticRegression:
    """Standardised multinomial logistic regression with L2, fitted by L-BFGS."""

    l2: float = 1e-2
    mean: Optional[np.ndarray] = None
    std: Optional[np.ndarray] = None
    weight: Optional[np.ndarray] = None
    bias: Optional[np.ndarray] = None

    def _prepare(self, feats: np.ndarray) -> torch.Tensor:
        """Impute nan with the training mean and standardise."""
        if self.mean is None or self.std is None:
            raise RuntimeError("LogisticRegression is not fitted")
        z = (np.where(np.isfinite(feats), feats, self.mean) - self.mean) / self.std
        return torch.from_numpy(z.astype(np.float64))

    def fit(self, feats: np.ndarray, y: np.ndarray, num_classes: int,
            sample_weight: Optional[Sequence[float]] = None) -> "LogisticRegression":
        """Fit on (N, F) features and (N,) integer labels."""
        # A feature no training window has (toes of a 16-joint skeleton) is imputed as 0.
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.mean = np.nan_to_num(np.nanmean(feats, axis=0))
            self.std = np.nan_to_num(np.nanstd(feats, axis=0), nan=1.0) + 1e-6
        z = self._prepare(feats)
        target = torch.from_numpy(np.asarray(y, np.int64))
        w = torch.ones(len(y), dtype=torch.float64) if sample_weight is None else \
            torch.as_tensor(sample_weight, dtype=torch.float64)
        w = w / w.sum()
        weight = torch.zeros(z.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=500,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            nll = torch.nn.functional.cross_entropy(z @ weight + bias, target, reduction="none")
            loss = (w * nll).sum() + self.l2 * (weight ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.weight, self.bias = weight.detach().numpy(), bias.detach().numpy()
        return self

    def logits(self, feats: np.ndarray) -> np.ndarray:
        """(N, C) decision values."""
        return (self._prepare(feats).numpy() @ self.weight + self.bias).astype(np.float32)
