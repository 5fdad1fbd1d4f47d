"""The window table: every dataset window through the frozen tokenizer once, cached on disk.

Per window: the tokenizer's temporal, body-part and semantic tokens, its head's probabilities,
the raw kinematic cues of the window and of its two halves, and the clip's dataset, action
(content), style (the dataset's own name) and emotion label. The explainer trains on it and the
LLM evaluation and benchmark read it; the cache key is the tokenizer's files as saved and the
clips, so a retrained tokenizer or another dataset gets a table of its own.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from emotion_node.cache import cache_root, read_npz, write_npz
from emotion_node.model.model_files import default_model_dir, model_hashes
from emotion_node.model.tokenizer import load_tokenizer
from emotion_node.skeleton.cues import span_cues_batch
from emotion_node.skeleton.dataset import (
    DATASETS, ClipInfo, DataRoots, action_key, emotion_contents, index_clips, load_clip)
from emotion_node.skeleton.preprocess import clip_windows, preprocess_batch

_TABLE_VERSION = 3  # 3: travel cues nan for root-locked datasets


@dataclass
class WindowTable:
    """Tokens, tokenizer-head probabilities, cues and labels of every evaluation window."""

    temporal: np.ndarray   # (N, T', D)
    spatial: np.ndarray    # (N, P, D)
    semantic: np.ndarray   # (N, K, D)
    probs: np.ndarray      # (N, C) tokenizer head
    cues: np.ndarray       # (N, 7) raw cues, CUE_NAMES order
    half_cues: np.ndarray  # (N, 2, 7) the same of the first and second half (nan: not judged)
    contents: np.ndarray   # (N,) str action
    styles: np.ndarray     # (N,) str the dataset's own style name
    emotions: np.ndarray   # (N,) str emotion label (EMOTION_STYLES name), '' for none
    datasets: np.ndarray   # (N,) str dataset key
    clip: np.ndarray       # (N,) int, clip index within the table

    def __len__(self) -> int:
        return int(self.cues.shape[0])

    def span_cues(self, row: int) -> np.ndarray:
        """(3, 7) cues of one window, its first and its second half (SPAN_NAMES order)."""
        return np.concatenate([self.cues[row][None], self.half_cues[row]])

    def action_keys(self) -> np.ndarray:
        """(N,) each window's action within its dataset (`dataset.action_key`)."""
        return np.array([action_key(d, c) for d, c in zip(self.datasets, self.contents)])

    def subset(self, keep: np.ndarray) -> "WindowTable":
        """Rows where `keep` is true (or the given indices)."""
        return WindowTable(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})

    def tokens(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(temporal, spatial, semantic) of the given rows."""
        return self.temporal[rows], self.spatial[rows], self.semantic[rows]


def _table_key(tokenizer_dir: Path, clips: Sequence, stride_s: float) -> str:
    """Cache key: the tokenizer files as saved (head probabilities are cached too), clips."""
    digest = hashlib.sha1(f"v{_TABLE_VERSION} {stride_s}".encode())
    digest.update(json.dumps(model_hashes(tokenizer_dir), sort_keys=True).encode())
    for info in clips:
        digest.update(f"{info.dataset}:{info.path.name}:{info.path.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def table_clips(data_root: DataRoots = None, emotions_only: bool = False,
                shared_only: bool = True) -> list[ClipInfo]:
    """The clips a table holds, of every dataset under `data_root`, sorted by file name.

    `shared_only`: only the actions in which a dataset has every one of its emotion styles
    (where emotions can be told apart rather than actions; training needs them).
    `emotions_only`: only clips with an emotion label (scoring a user's folder).
    """
    clips = index_clips(data_root)
    actions = emotion_contents(clips)
    keep = [c for c in clips
            if (not shared_only or c.content in actions.get(c.dataset, ()))
            and (not emotions_only or c.emotion is not None)]
    if not keep:
        raise ValueError(f"no clips {'with an emotion label ' if emotions_only else ''}"
                         f"{'in an action with every emotion style ' if shared_only else ''}"
                         f"under {data_root}")
    return sorted(keep, key=lambda c: c.path.name)


def build_window_table(tokenizer_dir: Optional[Path] = None, data_root: DataRoots = None,
                       stride_s: float = 0.5, progress: bool = True, shared_only: bool = True,
                       emotions_only: bool = False) -> WindowTable:
    """Tokenize every window of `table_clips(data_root, emotions_only, shared_only)` (cached
    per tokenizer and clips)."""
    tokenizer_dir = Path(tokenizer_dir) if tokenizer_dir is not None else default_model_dir()
    clips = table_clips(data_root, emotions_only, shared_only)
    file = cache_root() / "explainer_windows" / f"{_table_key(tokenizer_dir, clips, stride_s)}.npz"
    entry = read_npz(file, [f.name for f in fields(WindowTable)])
    if entry is not None:
        return WindowTable(**entry)
    model, config = load_tokenizer(tokenizer_dir)
    parts: dict[str, list] = {f.name: [] for f in fields(WindowTable)}
    for index, info in enumerate(tqdm(clips, desc="tokenize", disable=not progress)):
        positions, mask, fps = load_clip(info)
        windows, masks, _ = clip_windows(positions, mask, fps, config.preprocess, stride_s)
        x, m = preprocess_batch(windows, masks, config.preprocess)
        with torch.no_grad():
            logits, temporal, spatial, semantic = model(torch.from_numpy(x),
                                                        torch.from_numpy(m).float())
        for name, value in (("temporal", temporal), ("spatial", spatial),
                            ("semantic", semantic), ("probs", logits.softmax(-1))):
            parts[name].append(value.numpy().astype(np.float32))
        spans = span_cues_batch(windows, masks, config.preprocess.fps,
                                DATASETS[info.dataset].root_locked)  # (W, 3, 7)
        parts["cues"].append(spans[:, 0])
        parts["half_cues"].append(spans[:, 1:])
        n = windows.shape[0]
        for name, value in (("contents", info.content), ("styles", info.style),
                            ("emotions", info.emotion or ""), ("datasets", info.dataset)):
            parts[name].append(np.array([value] * n))
        parts["clip"].append(np.full(n, index))
    table = WindowTable(**{k: np.concatenate(v) for k, v in parts.items()})
    write_npz(file, **asdict(table))
    return table
