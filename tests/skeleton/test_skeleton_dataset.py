"""Dataset index, labels, shared contents and the clip cache (folds: tests/model/test_loco.py)."""

import os
import shutil

import numpy as np
import pytest

from emotion_node.skeleton.dataset import (
    ClipInfo, default_data_root, index_clips, load_clip, shared_contents)

EMOTION_STYLES = ("normal", "happy", "sad", "angry", "proud", "not-confident", "tired")
CONTENTS = ["bow", "bye", "byebye", "dash", "walk", "walk-back", "walk-left", "walk-right"]


def test_index_matches_file_names(data_root):
    clips = index_clips(data_root)
    assert len(clips) == 144 and clips == sorted(clips, key=lambda c: (c.content, c.style, c.take,
                                                                          str(c.path)))
    for c in clips:  # JSON labels agree with the file name
        assert c.path.stem == f"dataset-1_{c.content}_{c.style}_{c.take:03d}"
    assert sum(c.style == "normal" for c in clips) == 18
    assert shared_contents(clips, EMOTION_STYLES) == CONTENTS


def test_file_name_fallback(tmp_path, data_root):
    src = data_root / "data" / "dataset-1_walk-back_not-confident_001.bvh"
    shutil.copy(src, tmp_path / src.name)  # no JSON, no cfg
    (clip,) = index_clips(tmp_path)
    assert (clip.content, clip.style, clip.take) == ("walk-back", "not-confident", 1)


def test_data_root_from_env(monkeypatch, tmp_path, data_root):
    monkeypatch.setenv("EMOTION_NODE_DATA", str(data_root))
    assert default_data_root() == data_root
    monkeypatch.setenv("EMOTION_NODE_DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="missing"):
        default_data_root()


def test_cache_round_trip_and_invalidation(tmp_path, data_root):
    src = data_root / "data" / "dataset-1_bye_sad_001.bvh"
    local = tmp_path / src.name
    shutil.copy(src, local)
    info = ClipInfo(local, "bye", "sad", 1)
    cache = tmp_path / "cache"
    pos, mask, fps = load_clip(info, cache)
    assert len(list(cache.glob("*.npz"))) == 1
    pos2, mask2, fps2 = load_clip(info, cache)
    np.testing.assert_array_equal(pos, pos2)
    np.testing.assert_array_equal(mask, mask2)
    assert fps == fps2 == 30.0 and pos.shape[1:] == (21, 3)
    stat = local.stat()
    os.utime(local, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    load_clip(info, cache)
    assert len(list(cache.glob("*.npz"))) == 2  # a changed file gets a new entry


def test_cache_entries_survive_corruption_and_read_only_caches(tmp_path, data_root):
    from emotion_node.cache import read_npz, write_npz

    entry = tmp_path / "cache" / "x.npz"
    write_npz(entry, a=np.arange(3))
    assert read_npz(entry, ["a"])["a"].tolist() == [0, 1, 2]
    assert read_npz(entry, ["a", "b"]) is None  # partial: rebuilt by the caller
    entry.write_bytes(b"not an npz")
    assert read_npz(entry, ["a"]) is None  # corrupt: rebuilt by the caller
    assert not list(entry.parent.glob("*.tmp.npz"))

    src = data_root / "data" / "dataset-1_bye_sad_001.bvh"
    info = ClipInfo(src, "bye", "sad", 1)
    blocked = tmp_path / "file_not_dir"
    blocked.write_text("")  # a cache path that cannot be created
    pos, _, fps = load_clip(info, blocked / "cache")
    assert fps == 30.0 and pos.shape[1:] == (21, 3)
