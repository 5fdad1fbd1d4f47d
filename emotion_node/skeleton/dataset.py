"""Index of the motion datasets (one or several roots) and a clip cache.

Three kinds of root are read (`sources`): a Bandai Namco dataset, Emotion-Gait, and a lab's own
folder with a `labels.csv`. Label tables and the clip record live in `specs` (imported here
too, the names the rest of the package uses).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from emotion_node.cache import cache_root, read_npz, write_npz
from emotion_node.skeleton.sources import LABELS_CSV, holds, index_root, read_clip
from emotion_node.skeleton.specs import (  # noqa: F401  (re-exported)
    DATASET_1, DATASET_2, DATASETS, EMOTION_GAIT, FOLDER, SHARED_DATASETS, ClipIndex, ClipInfo,
    DatasetSpec, action_key)

# One dataset root, several, or None for the defaults (`default_data_roots`).
DataRoots = Union[str, Path, Sequence[Union[str, Path]], None]
DATA_ENV = "EMOTION_NODE_DATA"  # one root, or several separated by os.pathsep (':')
_CACHE_VERSION = 2  # bump when a reader's output changes


def _repo_root() -> Path | None:
    """The directory holding package.xml above this file, if any."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "package.xml").is_file():
            return parent
    return None


def default_data_roots() -> list[Path]:
    """Dataset roots: $EMOTION_NODE_DATA (os.pathsep-separated), else every shared copy found
    at <repo>/../shared/data/<dataset folder>."""
    env = os.environ.get(DATA_ENV)
    if env:
        roots = [Path(p).expanduser() for p in env.split(os.pathsep) if p]
        missing = [str(r) for r in roots if not r.is_dir()]
        if missing or not roots:
            raise FileNotFoundError(f"{DATA_ENV}={env!r}: not a directory: {missing or env!r}")
        return roots
    repo = _repo_root()
    shared = repo.parent / "shared" / "data" if repo is not None else None
    roots = [shared / d.dirname for d in SHARED_DATASETS
             if shared is not None and (shared / d.dirname).is_dir()]
    if not roots:
        folders = [d.dirname for d in SHARED_DATASETS]
        raise FileNotFoundError(
            f"no dataset found: set {DATA_ENV} (several roots separated by {os.pathsep!r}) or "
            f"place them at <repo>/../shared/data/{{{','.join(folders)}}} (repo = the "
            f"directory holding package.xml; found {repo})")
    return roots


def default_data_root(dataset: str = "dataset-1") -> Path:
    """The default root that holds one dataset's clips (Dataset 1 unless named)."""
    roots = default_data_roots()
    found = next((r for r in roots if holds(r, dataset)), None)
    if found is None:
        raise FileNotFoundError(f"no {dataset}_* clips under the dataset roots "
                                f"{[str(r) for r in roots]}")
    return found


def resolve_roots(roots: DataRoots) -> list[Path]:
    """Normalise a root, several roots, or None (the defaults) to a list of paths."""
    if roots is None:
        return default_data_roots()
    if isinstance(roots, (str, Path)):
        roots = [roots]
    out = [Path(r).expanduser() for r in roots]
    if not out:
        return default_data_roots()
    return out


def scan_clips(roots: DataRoots = None, joint_map: Optional[Path] = None) -> ClipIndex:
    """Every clip under one or several roots (default: `default_data_roots()`), sorted, with
    the files whose names follow no known dataset (`dataset-N_{content}_{style}_{take}.bvh`).
    `joint_map`: a joint-name map for the motion files of a lab's folder."""
    out = ClipIndex()
    for root in resolve_roots(roots):
        if not root.is_dir():
            raise FileNotFoundError(f"dataset root {root} is not a directory")
        found = index_root(root, joint_map)
        out.clips += found.clips
        out.skipped += found.skipped
    if not out.clips:
        raise FileNotFoundError(
            f"no {LABELS_CSV} and no clip named dataset-N_{{content}}_{{style}}_{{take}}.bvh "
            f"under {[str(r) for r in resolve_roots(roots)]} ({len(out.skipped)} other .bvh "
            "files)")
    seen: dict[str, int] = {}
    for c in out.clips:  # the same root twice (links to one file in two roots are fine)
        where = os.path.abspath(c.path)
        seen[where] = seen.get(where, 0) + 1
    twice = sorted(p for p, n in seen.items() if n > 1)
    if twice:
        raise ValueError(f"clips indexed twice (a root given twice?): {twice[:3]}")
    out.clips.sort(key=lambda c: (c.dataset, c.content, c.style, c.take, str(c.path)))
    return out


def index_clips(roots: DataRoots = None, joint_map: Optional[Path] = None) -> list[ClipInfo]:
    """`scan_clips(roots, joint_map).clips`: every clip with a known dataset name."""
    return scan_clips(roots, joint_map).clips


def emotion_contents(clips: Iterable[ClipInfo]) -> dict[str, list[str]]:
    """Per dataset, the contents (sorted) in which every emotion label that dataset's clips
    have (all of its table's, for a full copy) has a clip: the actions where emotions can be
    told apart rather than actions apart."""
    have: dict[tuple[str, str], set[str]] = {}
    present: dict[str, set[str]] = {}
    for c in clips:
        if c.emotion is not None:
            have.setdefault((c.dataset, c.content), set()).add(c.emotion)
            present.setdefault(c.dataset, set()).add(c.emotion)
    out: dict[str, list[str]] = {}
    for (key, content), labels in sorted(have.items()):
        if present[key] <= labels:
            out.setdefault(key, []).append(content)
    return out


def emotion_clips(clips: Sequence[ClipInfo], labels: Sequence[str]) -> list[int]:
    """Indices of clips with an emotion among `labels` in an action of `emotion_contents`."""
    contents = emotion_contents(clips)
    return [i for i, c in enumerate(clips)
            if c.emotion in labels and c.content in contents.get(c.dataset, ())]


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
        return read_clip(info)
    stat = info.path.stat()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    # The resolved path and the reader key the entry: clips of two datasets (or two copies, or
    # one file read with two joint maps) never collide.
    where = hashlib.sha1(f"{info.path.resolve()}|{info.dataset}|{_map_stamp(info)}".encode())
    key = (f"{info.path.stem}_{where.hexdigest()[:10]}_{stat.st_size}_{stat.st_mtime_ns}"
           f"_v{_CACHE_VERSION}.npz")
    file = cache / key
    entry = read_npz(file, ("positions", "mask", "fps"))
    if entry is not None:
        return entry["positions"], entry["mask"], float(entry["fps"])
    pos, mask, fps = read_clip(info)
    write_npz(file, positions=pos, mask=mask, fps=np.asarray(fps, np.float64))
    return pos, mask, fps


def _map_stamp(info: ClipInfo) -> str:
    """The joint map's content hash ('' without one), so an edited map is read anew."""
    if info.joint_map is None:
        return ""
    return hashlib.sha1(Path(info.joint_map).read_bytes()).hexdigest()[:10]
