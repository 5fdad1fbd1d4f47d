"""Where derived files go (clip caches, text embeddings, converted LLM weights, window tables,
re-exported ONNX, TensorRT engines): one directory, chosen in one place.

`$EMOTION_NODE_CACHE`, else `$XDG_CACHE_HOME/emotion_node`, else `~/.cache/emotion_node`. Never
inside the dataset or the install, which may be read-only.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

CACHE_ENV = "EMOTION_NODE_CACHE"


def cache_root() -> Path:
    """The cache directory (not created here)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "emotion_node"


def read_npz(path: Path, names: Sequence[str]) -> Optional[Dict[str, np.ndarray]]:
    """The named arrays of a cache entry; None when it is missing, partial or corrupt."""
    try:
        with np.load(path) as entry:
            return {name: entry[name] for name in names}
    except (OSError, KeyError, ValueError):
        return None  # rebuilt by the caller


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write a cache entry atomically; a read-only cache is not an error (it only costs time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # one per process: no collisions
        np.savez(tmp, allow_pickle=False, **arrays)
        os.replace(tmp, path)  # parallel readers never see half a file
    except OSError:
        pass
