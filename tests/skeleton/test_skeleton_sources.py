"""Emotion-Gait and a lab's own folder as datasets: label tables, readers, bad input."""

import numpy as np
import pytest

from emotion_node.skeleton.dataset import (
    EMOTION_GAIT, FOLDER, emotion_clips, index_clips, load_clip, scan_clips)
from emotion_node.skeleton.sources import read_egait
from emotion_node.skeleton.layouts import CANONICAL_INDEX, get_layout, layout_presence

EGAIT_HEADER = "file,key,group,actor,perceived,acted,frames"


def _gait(frames: int = 20, seed: int = 0) -> np.ndarray:
    """A (T, 16, 3) Y-up gait-like array: a standing body with some sway."""
    rng = np.random.default_rng(seed)
    rest = np.array([[0, 0, 0], [0, .2, 0], [0, .4, 0], [0, .5, 0],
                     [-.15, .38, 0], [-.2, .15, 0], [-.2, -.05, 0],
                     [.15, .38, 0], [.2, .15, 0], [.2, -.05, 0],
                     [-.1, 0, 0], [-.1, -.4, 0], [-.1, -.8, 0],
                     [.1, 0, 0], [.1, -.4, 0], [.1, -.8, 0]], np.float32)
    return rest[None] + 0.01 * rng.standard_normal((frames, 16, 3)).astype(np.float32)


def _egait_folder(tmp_path, rows):
    (tmp_path / "gaits").mkdir(exist_ok=True)
    for n, row in enumerate(rows):
        name = row.split(",")[0]
        if name.endswith(".npy") and not (tmp_path / name).exists():
            np.save(tmp_path / name, _gait(seed=n))
    (tmp_path / "labels.csv").write_text("\n".join([EGAIT_HEADER] + rows) + "\n")
    return tmp_path


def test_egait_label_table():
    assert EMOTION_GAIT.emotion_of("neutral") == "normal"
    assert EMOTION_GAIT.label_set == ("normal", "happy", "sad", "angry")
    assert EMOTION_GAIT.partial_labels and EMOTION_GAIT.root_locked
    with pytest.raises(ValueError, match="tired"):
        EMOTION_GAIT.emotion_of("tired")  # never offered to its annotators
    assert FOLDER.emotion_of("neutral") == FOLDER.emotion_of("normal") == "normal"


def test_egait_layout_masks_what_it_lacks():
    present = layout_presence("egait16")
    missing = {n for n, i in CANONICAL_INDEX.items() if not present[i]}
    assert missing == {"chest", "clavicle_l", "clavicle_r", "toe_l", "toe_r"}
    assert len(get_layout("egait16").joints) == 16


def test_egait_reader_keeps_left_left_and_y_up_as_z_up(tmp_path):
    np.save(tmp_path / "g.npy", _gait())
    pos, mask, fps = read_egait(tmp_path / "g.npy")
    assert pos.shape == (20, 21, 3) and fps == 30.0
    i = CANONICAL_INDEX
    assert (pos[:, i["head"], 2] > pos[:, i["ankle_l"], 2] + 1.0).all()  # Y up became Z up
    # Facing -Z with left at -X: after the axis change the person faces -X, left at -Y.
    assert (pos[:, i["shoulder_l"], 1] < pos[:, i["shoulder_r"], 1]).all()
    assert not mask[:, i["chest"]].any() and mask[:, i["wrist_r"]].all()


def test_egait_bad_input_names_file_and_line(tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((10, 17, 3), np.float32))
    with pytest.raises(ValueError, match=r"wrong\.npy.*\(T, 16, 3\).*\(10, 17, 3\)"):
        read_egait(tmp_path / "wrong.npy")
    ok = "gaits/a.npy,a,numbered,001,happy,,20"
    for bad, match in (("gaits/b.npy,b,numbered,002,proud,,20",
                        r"labels\.csv:3: unknown label 'proud'"),
                       ("gaits/none.npy,n,numbered,002,sad,,20", r"labels\.csv:3: file .*none"),
                       (ok, r"labels\.csv:3: gaits/a\.npy is listed twice \(first on line 2\)")):
        folder = tmp_path / str(abs(hash(bad)))
        folder.mkdir()
        _egait_folder(folder, [ok, "gaits/b.npy,b,numbered,002,sad,,20"])
        (folder / "labels.csv").write_text(f"{EGAIT_HEADER}\n{ok}\n{bad}\n")
        with pytest.raises(ValueError, match=match):
            index_clips(folder)


def test_egait_nan_frames_are_masked(tmp_path):
    gait = _gait()
    gait[3] = np.nan
    gait[5, 6] = np.nan  # the left hand of one frame
    np.save(tmp_path / "g.npy", gait)
    pos, mask, _ = read_egait(tmp_path / "g.npy")
    assert np.isfinite(pos).all()
    assert not mask[3].any() and not mask[5, CANONICAL_INDEX["wrist_l"]]
    assert mask[5, CANONICAL_INDEX["wrist_r"]]


def test_egait_index_people_and_cache(egait_root, tmp_path):
    clips = index_clips(egait_root)
    assert {c.dataset for c in clips} == {"emotion-gait"} and len(clips) == 20
    named = [c for c in clips if c.group == "numbered"]
    assert {c.person_key for c in named} == {f"emotion-gait:numbered:00{n}" for n in range(1, 5)}
    # A library without walker names is one group: it never straddles a split.
    assert {c.person_key for c in clips if c.group == "scene"} == {"emotion-gait:scene"}
    assert {c.emotion for c in clips} <= set(EMOTION_GAIT.label_set)
    assert emotion_clips(clips, EMOTION_GAIT.label_set) == list(range(len(clips)))
    first = load_clip(clips[0], cache_dir=tmp_path)
    again = load_clip(clips[0], cache_dir=tmp_path)  # from the cache
    assert np.array_equal(first[0], again[0]) and first[2] == again[2] == 30.0
    assert len(list(tmp_path.glob("*.npz"))) == 1


def test_folder_labels_csv(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((5, 22, 3), np.float32))
    (tmp_path / "labels.csv").write_text("file,label,action,person\na.npy,Neutral,walk,p1\n")
    (clip,) = scan_clips(tmp_path).clips
    assert (clip.dataset, clip.style, clip.emotion, clip.content, clip.person) == (
        "folder", "neutral", "normal", "walk", "p1")
    assert clip.person_key == "folder::p1"
    for rows, match in (("a.npy,joyful", r"labels\.csv:2: unknown label 'joyful'"),
                        ("b.npy,sad", r"labels\.csv:2: file b\.npy not found"),
                        ("a.npy,sad\na.npy,sad", r"labels\.csv:3: a\.npy is listed twice"),
                        ("labels.csv,sad", r"labels\.csv:2: labels\.csv is not a motion file")):
        (tmp_path / "labels.csv").write_text(f"file,label\n{rows}\n")
        with pytest.raises(ValueError, match=match):
            index_clips(tmp_path)
    (tmp_path / "labels.csv").write_text("name,emotion\na.npy,sad\n")
    with pytest.raises(ValueError, match=r"labels\.csv:1: missing column"):
        index_clips(tmp_path)
