"""Where derived files go (clip caches, text embeddings, converted LLM weights, window tables,
re-exported ONNX, TensorRT engines): one directory, chosen in one place.

`$EMOTION_NODE_CACHE`, else `$XDG_CACHE_HOME/emotion_node`, else `~/.cache/emotion_node`. Never
inside the dataset or the install, which may be read-only.
"""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "EMOTION_NODE_CACHE"


def cache_root() -> Path:
    """The cache directory (not created here)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "emotion_node"
