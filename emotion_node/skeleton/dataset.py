"""Index of the Bandai Namco motion datasets (one or several roots), their label tables and a
clip cache.

Each dataset has its own style vocabulary; `DATASETS` says, per dataset, which styles carry an
emotion label (and which label) and which are expressive styles without one. A clip's emotion
comes only from that table, so a style nobody mapped can never be trained on as an emotion.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from emotion_node.cache import cache_root, read_npz, write_npz
from emotion_node.skeleton.bvh import read_bvh_canonical

# One dataset root, several, or None for the defaults (`default_data_roots`).
DataRoots = Union[str, Path, Sequence[Union[str, Path]], None]
DATA_ENV = "EMOTION_NODE_DATA"  # one root, or several separated by os.pathsep (':')
_NAME_RE = re.compile(r"^(?P<dataset>dataset-\d+)_(?P<content>.+)_(?P<style>[^_]+)_"
                      r"(?P<take>\d+)$")
_CACHE_VERSION = 1  # bump when read_bvh_canonical's output changes


@dataclass(frozen=True)
class DatasetSpec:
    """One public dataset: its file prefix, where it usually lives, and its label table."""

    key: str                        # file-name prefix before the first '_', e.g. "dataset-1"
    dirname: str                    # folder name of the shared copy
    citation: str                   # credit (both are CC BY-NC 4.0)
    emotions: dict[str, str]        # style -> emotion label (EMOTION_STYLES names)
    expressive: tuple[str, ...]     # styles without an emotion label (pre-training, style head)

    @property
    def styles(self) -> tuple[str, ...]:
        """Every style, emotion styles first, in table order (the style head's classes)."""
        return tuple(self.emotions) + self.expressive

    def emotion_of(self, style: str) -> Optional[str]:
        """The emotion label of a style, None for an expressive one; ValueError if unknown."""
        if style in self.emotions:
            return self.emotions[style]
        if style in self.expressive:
            return None
        raise ValueError(f"style {style!r} is not in the {self.key} label table "
                         f"(styles: {list(self.styles)})")


_CITATION = ("Bandai Namco Research Motion Dataset {n} (Kobayashi et al. 2023, arXiv:2306.08861), "
             "CC BY-NC 4.0")
# Dataset 1: fifteen styles, seven of them emotion-like and used as emotion labels as they are.
DATASET_1 = DatasetSpec(
    key="dataset-1", dirname="bandai-motion-1", citation=_CITATION.format(n=1),
    emotions={s: s for s in ("normal", "happy", "sad", "angry", "proud", "not-confident",
                             "tired")},
    expressive=("active", "childish", "chimpira", "feminine", "giant", "masculinity",
                "musical", "old"))
# Dataset 2: seven uniform styles; only normal and exhausted (= tired) are emotions.
DATASET_2 = DatasetSpec(
    key="dataset-2", dirname="bandai-motion-2", citation=_CITATION.format(n=2),
    emotions={"normal": "normal", "exhausted": "tired"},
    expressive=("active", "elderly", "feminine", "masculine", "youthful"))
DATASETS: dict[str, DatasetSpec] = {d.key: d for d in (DATASET_1, DATASET_2)}


@dataclass(frozen=True)
class ClipInfo:
    """One BVH clip and its labels: the dataset's own style and the emotion it stands for."""

    path: Path
    content: str
    style: str
    take: int
    dataset: str = DATASET_1.key
    emotion: Optional[str] = None  # None: an expressive style without an emotion label

    @property
    def spec(self) -> DatasetSpec:
        """The dataset's label table."""
        return DATASETS[self.dataset]

    @property
    def action_key(self) -> str:
        """This clip's action within its dataset (`action_key`)."""
        return action_key(self.dataset, self.content)


def action_key(dataset: str, content: str) -> str:
    """One dataset's action, 'dataset-1:walk': neutral-motion statistics are kept per key,
    since one studio's neutral walk is not the other's."""
    return f"{dataset}:{content}"


@dataclass
class ClipIndex:
    """The clips found under some roots, and the files passed over (counted, never mislabelled)."""

    clips: list[ClipInfo] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # .bvh files whose names no dataset has

    def datasets(self) -> list[str]:
        """Dataset keys present, sorted."""
        return sorted({c.dataset for c in self.clips})


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
    roots = [shared / d.dirname for d in DATASETS.values()
             if shared is not None and (shared / d.dirname).is_dir()]
    if not roots:
        folders = [d.dirname for d in DATASETS.values()]
        raise FileNotFoundError(
            f"no dataset found: set {DATA_ENV} (several roots separated by {os.pathsep!r}) or "
            f"place them at <repo>/../shared/data/{{{','.join(folders)}}} (repo = the "
            f"directory holding package.xml; found {repo})")
    return roots


def _holds(root: Path, key: str) -> bool:
    """Whether a root has clips of the dataset `key` (in root/data or root)."""
    data = root / "data" if (root / "data").is_dir() else root
    return next(data.glob(f"{key}_*.bvh"), None) is not None


def default_data_root(dataset: str = "dataset-1") -> Path:
    """The default root that holds one dataset's clips (Dataset 1 unless named)."""
    roots = default_data_roots()
    found = next((r for r in roots if _holds(r, dataset)), None)
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


def _read_labels(root: Path, name: str) -> dict[str, list[str]]:
    """cfg/<name> as {dataset key: labels in file order, prefix stripped}; {} when missing."""
    path = root / "cfg" / name
    if not path.is_file():
        return {}
    out: dict[str, list[str]] = {}
    for line in (ln.strip() for ln in path.read_text().splitlines()):
        if line:
            key, sep, label = line.partition("_")
            if not sep or key not in DATASETS:
                raise ValueError(f"{path}: label {line!r} does not start with a known dataset "
                                 f"prefix ({', '.join(k + '_' for k in DATASETS)})")
            out.setdefault(key, []).append(label)
    return out


def _clip_info(bvh: Path, match: re.Match, contents: dict[str, list[str]],
               styles: dict[str, list[str]]) -> ClipInfo:
    """Labels from the JSON beside the clip (indices into cfg labels), else the file name."""
    key = match["dataset"]
    content, style, take = match["content"], match["style"], int(match["take"])
    meta = bvh.with_suffix(".json")
    if meta.is_file() and key in contents and key in styles:
        try:
            data = json.loads(meta.read_text())
            i, j = int(data["content"]), int(data["style"])
            if not (0 <= i < len(contents[key]) and 0 <= j < len(styles[key])):
                raise IndexError(f"content {i} / style {j} outside the {len(contents[key])} "
                                 f"contents / {len(styles[key])} styles of cfg/")
            content, style = contents[key][i], styles[key][j]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise ValueError(f"{meta}: bad label file: {err}") from None
        if (content, style) != (match["content"], match["style"]):
            raise ValueError(f"{meta}: labels ({content!r}, {style!r}) disagree with the file "
                             f"name {bvh.name}")
    spec = DATASETS[key]
    try:
        emotion = spec.emotion_of(style)
    except ValueError as err:
        raise ValueError(f"{bvh}: {err}") from None
    return ClipInfo(bvh, content, style, take, key, emotion)


def _index_root(root: Path) -> ClipIndex:
    """Clips of one root (its data/ folder when it has one)."""
    data = root / "data" if (root / "data").is_dir() else root
    files = sorted(data.glob("*.bvh"))
    if not files:
        raise FileNotFoundError(f"no .bvh files in {data}")
    contents = _read_labels(root, "content_label.txt")
    styles = _read_labels(root, "style_label.txt")
    found = ClipIndex()
    for path in files:
        match = _NAME_RE.match(path.stem)
        if match is None or match["dataset"] not in DATASETS:
            found.skipped.append(path)
        else:
            found.clips.append(_clip_info(path, match, contents, styles))
    return found


def scan_clips(roots: DataRoots = None) -> ClipIndex:
    """Every clip under one or several roots (default: `default_data_roots()`), sorted, with
    the files whose names follow no known dataset (`dataset-N_{content}_{style}_{take}.bvh`)."""
    out = ClipIndex()
    for root in resolve_roots(roots):
        if not root.is_dir():
            raise FileNotFoundError(f"dataset root {root} is not a directory")
        found = _index_root(root)
        out.clips += found.clips
        out.skipped += found.skipped
    if not out.clips:
        raise FileNotFoundError(
            f"no clip named dataset-N_{{content}}_{{style}}_{{take}}.bvh under "
            f"{[str(r) for r in resolve_roots(roots)]} ({len(out.skipped)} other .bvh files)")
    seen: dict[str, int] = {}
    for c in out.clips:  # the same root twice (links to one file in two roots are fine)
        where = os.path.abspath(c.path)
        seen[where] = seen.get(where, 0) + 1
    twice = sorted(p for p, n in seen.items() if n > 1)
    if twice:
        raise ValueError(f"clips indexed twice (a root given twice?): {twice[:3]}")
    out.clips.sort(key=lambda c: (c.dataset, c.content, c.style, c.take, str(c.path)))
    return out


def index_clips(roots: DataRoots = None) -> list[ClipInfo]:
    """`scan_clips(roots).clips`: every clip with a known dataset name."""
    return scan_clips(roots).clips


def emotion_contents(clips: Iterable[ClipInfo]) -> dict[str, list[str]]:
    """Per dataset, the contents (sorted) in which every emotion style of that dataset has a
    clip: the actions where emotions can be told apart rather than actions apart."""
    have: dict[tuple[str, str], set[str]] = {}
    for c in clips:
        have.setdefault((c.dataset, c.content), set()).add(c.style)
    out: dict[str, list[str]] = {}
    for (key, content), styles in sorted(have.items()):
        if set(DATASETS[key].emotions) <= styles:
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
        return read_bvh_canonical(info.path)
    stat = info.path.stat()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    # The resolved path keys the entry: clips of two datasets (or two copies) never collide.
    where = hashlib.sha1(str(info.path.resolve()).encode()).hexdigest()[:10]
    key = f"{info.path.stem}_{where}_{stat.st_size}_{stat.st_mtime_ns}_v{_CACHE_VERSION}.npz"
    file = cache / key
    entry = read_npz(file, ("positions", "mask", "fps"))
    if entry is not None:
        return entry["positions"], entry["mask"], float(entry["fps"])
    pos, mask, fps = read_bvh_canonical(info.path)
    write_npz(file, positions=pos, mask=mask, fps=np.asarray(fps, np.float64))
    return pos, mask, fps
