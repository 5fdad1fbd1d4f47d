"""How each kind of dataset root is read into clips: a Bandai Namco dataset (BVH named
`dataset-N_{content}_{style}_{take}`, labels in cfg/), Emotion-Gait (`gaits/*.npy` and a
`labels.csv` of perceived labels and walkers), and a lab's own folder (motion files with a
`labels.csv` of `file,label[,action,person]`). Bad rows are errors naming the file and line.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from emotion_node.skeleton.bvh import BVH_TO_REP103, read_bvh_canonical
from emotion_node.skeleton.conventions import read_motion_canonical
from emotion_node.skeleton.layouts import get_layout, map_to_canonical
from emotion_node.skeleton.specs import (
    DATASETS, EMOTION_GAIT, FOLDER, ClipIndex, ClipInfo, DatasetSpec)

_NAME_RE = re.compile(r"^(?P<dataset>dataset-\d+)_(?P<content>.+)_(?P<style>[^_]+)_"
                      r"(?P<take>\d+)$")
# The datasets read from BVH names and cfg/ label files (Emotion-Gait and a folder use a CSV).
_BANDAI_KEYS = tuple(k for k in DATASETS if k.startswith("dataset-"))
EGAIT_FPS = 30.0
LABELS_CSV = "labels.csv"


def holds(root: Path, key: str) -> bool:
    """Whether a root has clips of the dataset `key` (in root/data or root)."""
    if key == EMOTION_GAIT.key:
        return (root / LABELS_CSV).is_file() and (root / "gaits").is_dir()
    data = root / "data" if (root / "data").is_dir() else root
    return next(data.glob(f"{key}_*.bvh"), None) is not None


def _read_labels(root: Path, name: str) -> dict[str, list[str]]:
    """cfg/<name> as {dataset key: labels in file order, prefix stripped}; {} when missing."""
    path = root / "cfg" / name
    if not path.is_file():
        return {}
    out: dict[str, list[str]] = {}
    for line in (ln.strip() for ln in path.read_text().splitlines()):
        if line:
            key, sep, label = line.partition("_")
            if not sep or key not in _BANDAI_KEYS:
                raise ValueError(f"{path}: label {line!r} does not start with a known dataset "
                                 f"prefix ({', '.join(k + '_' for k in _BANDAI_KEYS)})")
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


def _index_bandai(root: Path) -> ClipIndex:
    """Bandai clips of one root (its data/ folder when it has one)."""
    data = root / "data" if (root / "data").is_dir() else root
    files = sorted(data.glob("*.bvh"))
    if not files:
        raise FileNotFoundError(f"no .bvh files in {data} and no {LABELS_CSV} in {root}")
    contents = _read_labels(root, "content_label.txt")
    styles = _read_labels(root, "style_label.txt")
    found = ClipIndex()
    for path in files:
        match = _NAME_RE.match(path.stem)
        if match is None or match["dataset"] not in _BANDAI_KEYS:
            found.skipped.append(path)
        else:
            found.clips.append(_clip_info(path, match, contents, styles))
    return found


def _csv_rows(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV with a header naming at least `required`."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}:1: missing column(s) {missing} (header: "
                             f"{reader.fieldnames})")
        return [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k})
                for row in reader]


def _labelled_file(root: Path, csv_path: Path, line: int, name: str, seen: dict[Path, int],
                   spec: DatasetSpec, label: str) -> tuple[Path, str]:
    """A row's file (existing, listed once) and its emotion label; ValueError naming the line."""
    where = f"{csv_path}:{line}"
    if not name:
        raise ValueError(f"{where}: empty file name")
    path = (root / name).resolve()
    if path in seen:
        raise ValueError(f"{where}: {name} is listed twice (first on line {seen[path]})")
    seen[path] = line
    if not path.is_file():
        raise ValueError(f"{where}: file {name} not found under {root}")
    if label.lower() not in spec.styles:
        raise ValueError(f"{where}: unknown label {label!r}; expected one of "
                         f"{list(spec.styles)}")
    return path, label.lower()


def _index_egait(root: Path) -> ClipIndex:
    """Emotion-Gait: `labels.csv` (file, key, group, actor, perceived, ...) and its gaits."""
    csv_path, found = root / LABELS_CSV, ClipIndex()
    seen: dict[Path, int] = {}
    for take, (line, row) in enumerate(_csv_rows(csv_path, ("file", "group", "actor",
                                                             "perceived"))):
        path, style = _labelled_file(root, csv_path, line, row["file"], seen, EMOTION_GAIT,
                                     row["perceived"])
        acted = (row.get("acted") or "").lower()
        found.clips.append(ClipInfo(path, "gait", style, take, EMOTION_GAIT.key,
                                    EMOTION_GAIT.emotion_of(style), row["actor"] or None,
                                    row["group"] or "unknown",
                                    acted=EMOTION_GAIT.emotion_of(acted)
                                    if acted in EMOTION_GAIT.styles else None))
    return found


MOTION_SUFFIXES = (".bvh", ".npz", ".npy")


def _index_folder(root: Path, joint_map: Optional[Path] = None) -> ClipIndex:
    """A lab's folder: `labels.csv` (file, label[, action, person]) naming motion files."""
    csv_path, found = root / LABELS_CSV, ClipIndex()
    seen: dict[Path, int] = {}
    for take, (line, row) in enumerate(_csv_rows(csv_path, ("file", "label"))):
        path, style = _labelled_file(root, csv_path, line, row["file"], seen, FOLDER,
                                     row["label"])
        if path.suffix.lower() not in MOTION_SUFFIXES:
            raise ValueError(f"{csv_path}:{line}: {row['file']} is not a motion file "
                             f"({', '.join(MOTION_SUFFIXES)})")
        found.clips.append(ClipInfo(path, row.get("action") or "recording", style, take,
                                    FOLDER.key, FOLDER.emotion_of(style),
                                    row.get("person") or None, joint_map=joint_map))
    return found


def index_root(root: Path, joint_map: Optional[Path] = None) -> ClipIndex:
    """Clips of one root, read by the kind of root it is (see the module docstring)."""
    csv_path = root / LABELS_CSV
    if not csv_path.is_file():
        return _index_bandai(root)
    with csv_path.open(newline="") as handle:
        header = next(csv.reader(handle), [])
    if "perceived" in header:
        return _index_egait(root)
    return _index_folder(root, joint_map)


def read_egait(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """One Emotion-Gait gait: (T, 16, 3) Y-up metres -> canonical REP-103 positions and mask."""
    try:
        gait = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable .npy gait: {err}") from None
    if gait.ndim != 3 or gait.shape[1:] != (16, 3) or gait.shape[0] < 1:
        raise ValueError(f"{path}: expected an Emotion-Gait array of shape (T, 16, 3), "
                         f"got {gait.shape}")
    # Y up, facing -Z (left = -X): the BVH axis change is a proper rotation, left stays left.
    rep = gait.astype(np.float64) @ BVH_TO_REP103.T
    pos, mask = map_to_canonical(rep, get_layout("egait16"))  # NaN joints are masked
    return pos, mask, EGAIT_FPS


def read_clip(info: ClipInfo) -> tuple[np.ndarray, np.ndarray, float]:
    """Canonical (T, 21, 3) positions, (T, 21) mask and fps of a clip, by its dataset's reader."""
    if info.dataset == EMOTION_GAIT.key:
        return read_egait(info.path)
    if info.dataset == FOLDER.key:
        return read_motion_canonical(info.path, joint_map=info.joint_map)
    return read_bvh_canonical(info.path)
