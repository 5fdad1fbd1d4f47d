"""The window table: every dataset window through the frozen tokenizer once, cached on disk.

Per window: the tokenizer's temporal, body-part and semantic tokens, its head's probabilities,
the raw kinematic cues, and the clip's action (content) and style. The explainer trains on it
and the LLM evaluation and benchmark read it; the cache key is the tokenizer's files as saved
and the clips, so a retrained tokenizer or another dataset gets a table of its own.
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
from emotion_node.model.labels import ALL_STYLES
from emotion_node.model.model_files import default_model_dir, model_hashes
from emotion_node.model.tokenizer import load_tokenizer
from emotion_node.skeleton.cues import cues_batch
from emotion_node.skeleton.dataset import (
    DATASET_1, DataRoots, index_clips, load_clip, shared_contents)
from emotion_node.skeleton.preprocess import clip_windows, preprocess_batch

_TABLE_VERSION = 1


@dataclass
class WindowTable:
    """Tokens, tokenizer-head probabilities, cues and labels of every evaluation window."""

    temporal: np.ndarray   # (N, T', D)
    spatial: np.ndarray    # (N, P, D)
    semantic: np.ndarray   # (N, K, D)
    probs: np.ndarray      # (N, C) tokenizer head
    cues: np.ndarray       # (N, 7) raw cues, CUE_NAMES order
    contents: np.ndarray   # (N,) str
    styles: np.ndarray     # (N,) str
    clip: np.ndarray       # (N,) int, clip index within the table

    def __len__(self) -> int:
        return int(self.cues.shape[0])

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
        digest.update(f"{info.path.name}:{info.path.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def build_window_table(tokenizer_dir: Optional[Path] = None, data_root: DataRoots = None,
                       stride_s: float = 0.5, styles: Sequence[str] = ALL_STYLES,
                       progress: bool = True, shared_only: bool = True) -> WindowTable:
    """Tokenize every window of `styles` (cached per tokenizer).

    `shared_only`: keep only the actions every one of `styles` has (training needs them all;
    scoring a user's folder does not).
    """
    tokenizer_dir = Path(tokenizer_dir) if tokenizer_dir is not None else default_model_dir()
    # Dataset 1's style vocabulary: `styles` name its styles (Dataset 2 has its own).
    clips = [c for c in index_clips(data_root) if c.dataset == DATASET_1.key]
    contents = set(shared_contents(clips, list(styles)) if shared_only
                   else (c.content for c in clips))
    clips = sorted((c for c in clips if c.style in styles and c.content in contents),
                   key=lambda c: c.path.name)
    if not clips:
        raise ValueError(f"no clips of styles {list(styles)} under {data_root}")
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
        parts["cues"].append(cues_batch(windows, masks, config.preprocess.fps))
        n = windows.shape[0]
        parts["contents"].append(np.array([info.content] * n))
        parts["styles"].append(np.array([info.style] * n))
        parts["clip"].append(np.full(n, index))
    table = WindowTable(**{k: np.concatenate(v) for k, v in parts.items()})
    write_npz(file, **asdict(table))
    return table
