"""Dataset index, labels, shared contents and the clip cache (folds: tests/model/test_loco.py)."""

import os
import shutil

import numpy as np
import pytest

from emotion_node.skeleton.dataset import (
    DATASET_1, DATASET_2, ClipInfo, default_data_root, default_data_roots, emotion_clips,
    emotion_contents, index_clips, load_clip, scan_clips, shared_contents)

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


def test_several_roots_from_env(monkeypatch, tmp_path, data_root):
    """EMOTION_NODE_DATA takes several roots; each dataset's own root is found by its files."""
    other = tmp_path / "d2"
    other.mkdir()
    (other / "dataset-2_walk_exhausted_001.bvh").symlink_to(
        data_root / "data" / "dataset-1_walk_tired_001.bvh")
    monkeypatch.setenv("EMOTION_NODE_DATA", f"{other}{os.pathsep}{data_root}")
    assert default_data_roots() == [other, data_root]
    assert default_data_root() == data_root  # Dataset 1's, though listed second
    assert default_data_root("dataset-2") == other
    keys = {c.dataset for c in index_clips()}
    assert keys == {"dataset-1", "dataset-2"}
    monkeypatch.setenv("EMOTION_NODE_DATA", str(other))  # a user with Dataset 2 only
    (clip,) = index_clips()
    assert (clip.dataset, clip.style, clip.emotion) == ("dataset-2", "exhausted", "tired")
    with pytest.raises(FileNotFoundError, match="dataset-1"):
        default_data_root()


def test_label_tables_say_which_style_is_which_emotion():
    assert DATASET_2.emotion_of("exhausted") == "tired"
    assert DATASET_2.emotion_of("normal") == "normal"
    assert DATASET_2.emotion_of("youthful") is None
    assert DATASET_1.emotion_of("tired") == "tired" and DATASET_1.emotion_of("old") is None
    assert len(DATASET_1.styles) == 15 and len(DATASET_2.styles) == 7
    with pytest.raises(ValueError, match="label table"):
        DATASET_2.emotion_of("happy")  # a Dataset 1 style is no Dataset 2 label


def _copy(src, folder, name=None):
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or src.name)
    shutil.copy(src, target)
    return target


def test_bad_folders_fail_clearly_or_are_counted(tmp_path, data_root):
    src = data_root / "data" / "dataset-1_bye_sad_001.bvh"
    # Unknown file names are skipped and counted, never guessed.
    mixed = tmp_path / "mixed"
    _copy(src, mixed)
    _copy(src, mixed, "my_recording.bvh")
    _copy(src, mixed, "dataset-9_walk_normal_001.bvh")
    found = scan_clips(mixed)
    assert len(found.clips) == 1 and sorted(p.name for p in found.skipped) == [
        "dataset-9_walk_normal_001.bvh", "my_recording.bvh"]
    # A style without a label-table entry: an error naming the file.
    unmapped = tmp_path / "unmapped"
    _copy(src, unmapped, "dataset-2_walk_happy_001.bvh")
    with pytest.raises(ValueError, match="dataset-2_walk_happy_001.bvh.*label table"):
        index_clips(unmapped)
    # A JSON whose indices are out of range: an error naming the JSON.
    bad_json = tmp_path / "bad_json"
    clip = _copy(src, bad_json / "data")
    (bad_json / "cfg").mkdir()
    for name in ("content_label.txt", "style_label.txt"):
        shutil.copy(data_root / "cfg" / name, bad_json / "cfg" / name)
    clip.with_suffix(".json").write_text('{"content": 99, "style": 2}')
    with pytest.raises(ValueError, match=r"dataset-1_bye_sad_001\.json.*outside"):
        index_clips(bad_json)
    # A JSON that disagrees with the file name: an error, not a silent relabel.
    clip.with_suffix(".json").write_text('{"content": 0, "style": 2}')
    with pytest.raises(ValueError, match="disagree"):
        index_clips(bad_json)
    # No known clip at all.
    nothing = tmp_path / "nothing"
    _copy(src, nothing, "recording.bvh")
    with pytest.raises(FileNotFoundError, match="no clip named"):
        index_clips(nothing)


def test_emotion_actions_per_dataset(data_root):
    clips = index_clips(data_root)
    assert emotion_contents(clips) == {"dataset-1": CONTENTS}
    chosen = emotion_clips(clips, EMOTION_STYLES)
    assert len(chosen) == 63 and {clips[i].content for i in chosen} == set(CONTENTS)


def test_both_shared_datasets_index_with_their_own_labels():
    try:
        roots = default_data_roots()
        default_data_root("dataset-2")
    except FileNotFoundError:
        pytest.skip("Dataset 2 not found")
    clips = index_clips(roots)
    d2 = [c for c in clips if c.dataset == "dataset-2"]
    assert {c.style for c in d2} == set(DATASET_2.styles)
    assert {c.emotion for c in d2} == {"normal", "tired", None}
    assert all(c.emotion == "tired" for c in d2 if c.style == "exhausted")
    assert emotion_contents(d2)["dataset-2"] == sorted({c.content for c in d2})


def test_cache_round_trip_and_invalidation(tmp_path, data_root):
    src = data_root / "data" / "dataset-1_bye_sad_001.bvh"
    local = tmp_path / src.name
    shutil.copy(src, local)
    info = ClipInfo(local, "bye", "sad", 1, "dataset-1", "sad")
    cache = tmp_path / "cache"
    pos, mask, fps = load_clip(info, cache)
    assert len(list(cache.glob("*.npz"))) == 1
    pos2, mask2, fps2 = load_clip(info, cache)
    np.testing.assert_array_equal(pos, pos2)
    np.testing.assert_array_equal(mask, mask2)
    assert fps == fps2 == 30.0 and pos.shape[1:] == (21, 3)
    twin = _copy(src, tmp_path / "other_copy")  # the same name in another dataset root
    load_clip(ClipInfo(twin, "bye", "sad", 1), cache)
    assert len(list(cache.glob("*.npz"))) == 2  # never collides with the first copy
    stat = local.stat()
    os.utime(local, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    load_clip(info, cache)
    assert len(list(cache.glob("*.npz"))) == 3  # a changed file gets a new entry


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
