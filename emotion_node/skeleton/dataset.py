"""Index of the Bandai Namco motion dataset, leave-one-content-out splits and a clip cache."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_node.cache import cache_root, read_npz, write_npz
from emotion_node.skeleton.bvh import read_bvh_canonical

DATA_ENV = "EMOTION_NODE_DATA"
DATASET_DIRNAME = "bandai-motion-1"
_NAME_RE = re.compile(r"^dataset-1_(?P<content>.+)_(?P<style>[^_]+)_(?P<take>\d+)$")
_LABEL_PREFIX = "dataset-1_"
_CACHE_VERSION = 1  # bump when read_bvh_canonical's output changes


@dataclass(frozen=True)
class ClipInfo:
    """One BVH clip of the dataset and its labels."""

    path: Path
    content: str
    style: str
    take: int


def _repo_root() -> Path | None:
    """The directory holding package.xml above this file, if any."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "package.xml").is_file():
            return parent
    return None


def default_data_root() -> Path:
    """Dataset root: $EMOTION_NODE_DATA, else <repo>/../shared/data/bandai-motion-1."""
    env = os.environ.get(DATA_ENV)
    if env:
        root = Path(env).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"{DATA_ENV}={env!r} is not a directory")
        return root
    repo = _repo_root()
    if repo is not None:
        root = repo.parent / "shared" / "data" / DATASET_DIRNAME
        if root.is_dir():
            return root
    raise FileNotFoundError(
        f"dataset not found: set {DATA_ENV} or place it at <repo>/../shared/data/"
        f"{DATASET_DIRNAME} (repo = the directory holding package.xml; found {repo})")


def _read_labels(root: Path, name: str) -> list[str] | None:
    """Label list from cfg/<name>, prefix stripped; None when the file is missing."""
    path = root / "cfg" / name
    if not path.is_file():
        return None
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    return [ln[len(_LABEL_PREFIX):] if ln.startswith(_LABEL_PREFIX) else ln for ln in lines]


def _clip_info(bvh: Path, contents: list[str] | None, styles: list[str] | None) -> ClipInfo:
    """Labels from the JSON beside the clip (indices into cfg labels), else the file name."""
    match = _NAME_RE.match(bvh.stem)
    if match is None:
        raise ValueError(f"{bvh}: file name does not follow dataset-1_{{content}}_{{style}}_"
                         "{take}.bvh")
    content, style, take = match["content"], match["style"], int(match["take"])
    meta = bvh.with_suffix(".json")
    if meta.is_file() and contents is not None and styles is not None:
        try:
            data = json.loads(meta.read_text())
            content, style = contents[int(data["content"])], styles[int(data["style"])]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise ValueError(f"{meta}: bad label file: {err}") from None
    return ClipInfo(bvh, content, style, take)


def index_clips(root: str | Path | None = None) -> list[ClipInfo]:
    """All clips under root (or root/data), sorted by content, style and take."""
    root = Path(root) if root is not None else default_data_root()
    data = root / "data" if (root / "data").is_dir() else root
    files = sorted(data.glob("*.bvh"))
    if not files:
        raise FileNotFoundError(f"no .bvh files in {data}")
    contents = _read_labels(root, "content_label.txt")
    styles = _read_labels(root, "style_label.txt")
    clips = [_clip_info(f, contents, styles) for f in files]
    return sorted(clips, key=lambda c: (c.content, c.style, c.take, str(c.path)))


def shared_contents(clips: list[ClipInfo], styles: list[str] | tuple[str, ...]) -> list[str]:
    """Contents (sorted) for which every given style has at least one clip."""
    have: dict[str, set[str]] = {}
    for c in clips:
        have.setdefault(c.content, set()).add(c.style)
    return sorted(k for k, v in have.items() if set(styles) <= v)


def default_cache_dir() -> Path:
    """The clip cache's directory (see emotion_node.cache)."""
    return cache_root()


def load_clip(info: ClipInfo, cache_dir: str | Path | None = None,
              use_cache: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """Canonical (T, 21, 3) positions, (T, 21) mask and fps of a clip, via an npz cache."""
    if not use_cache:
        return read_bvh_canonical(info.path)
    stat = info.path.stat()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    where = hashlib.sha1(str(info.path.resolve()).encode()).hexdigest()[:10]
    key = f"{info.path.stem}_{where}_{stat.st_size}_{stat.st_mtime_ns}_v{_CACHE_VERSION}.npz"
    file = cache / key
    entry = read_npz(file, ("positions", "mask", "fps"))
    if entry is not None:
        return entry["positions"], entry["mask"], float(entry["fps"])
    pos, mask, fps = read_bvh_canonical(info.path)
    write_npz(file, positions=pos, mask=mask, fps=np.asarray(fps, np.float64))
    return pos, mask, fps
