"""Training over datasets with other label sets and root-locked clips (Emotion-Gait)."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from emotion_node.skeleton.dataset import ClipInfo
from emotion_node.skeleton.layouts import CANONICAL_INDEX
from emotion_node.skeleton.preprocess import PreprocessConfig
from emotion_node.training.data import (
    AugmentConfig, ClipRecord, root_lock, training_sample)
from emotion_node.training.train_tokenizer import allowed_labels, partial_cross_entropy

LABELS = ("normal", "happy", "sad", "angry", "proud", "not-confident", "tired")
GAIT = ClipInfo(Path("g.npy"), "gait", "neutral", 0, "emotion-gait", "normal", "001",
                "numbered")
BANDAI = ClipInfo(Path("b.bvh"), "walk", "proud", 1, "dataset-1", "proud")


def test_allowed_labels_only_limit_partial_datasets():
    assert allowed_labels([BANDAI, BANDAI], LABELS) is None  # the plain loss, bit for bit
    allowed = allowed_labels([BANDAI, GAIT], LABELS)
    assert allowed is not None and allowed[0].all()
    assert [LABELS[i] for i in np.flatnonzero(allowed[1].numpy())] == [
        "normal", "happy", "sad", "angry"]


def test_partial_cross_entropy_matches_plain_and_spares_unoffered_labels():
    torch.manual_seed(0)
    logits = torch.randn(4, 7, requires_grad=True)
    y = torch.tensor([0, 1, 4, 6])
    every = torch.ones(4, 7, dtype=torch.bool)
    plain = F.cross_entropy(logits, y, label_smoothing=0.1)
    assert torch.allclose(partial_cross_entropy(logits, y, every, 0.1), plain, atol=1e-6)
    assert torch.equal(partial_cross_entropy(logits, y, None, 0.1), plain)
    allowed = every.clone()
    allowed[:2, 4:] = False  # two gaits labelled among four
    partial_cross_entropy(logits, y, allowed, 0.1).backward()
    assert logits.grad is not None
    assert torch.all(logits.grad[:2, 4:] == 0)  # proud, not-confident, tired: untouched
    assert torch.all(logits.grad[2:, 4:] != 0)  # a Bandai clip still pushes them


def test_root_lock_holds_the_pelvis_and_masks_frames_without_it():
    rng = np.random.default_rng(0)
    pos = rng.standard_normal((6, 21, 3)).astype(np.float32)
    mask = np.ones((6, 21), bool)
    mask[2, CANONICAL_INDEX["pelvis"]] = False
    locked, locked_mask = root_lock(pos, mask)
    assert not locked_mask[2].any() and locked_mask[[0, 1, 3, 4, 5]].all()
    assert np.allclose(locked[locked_mask[:, 0], 0], 0.0)
    head = CANONICAL_INDEX["head"]
    assert np.allclose(locked[0, head], pos[0, head] - pos[0, 0])


def test_root_lock_in_training_samples_and_old_recipes():
    assert AugmentConfig.from_dict({}).root_lock_p == 0.0  # recorded before it existed
    assert AugmentConfig().root_lock_p > 0
    t = np.arange(60) / 30.0
    pos = np.zeros((60, 21, 3), np.float32)
    pos[:, :, 0] = 1.4 * t[:, None]  # walking forward at 1.4 m/s
    pos[:, :, 1] = np.linspace(-0.2, 0.2, 21)[None]
    pos[:, :, 2] = np.linspace(0.0, 1.7, 21)[None]
    record = ClipRecord(BANDAI, pos, np.ones((60, 21), bool), 30.0)
    config = PreprocessConfig()
    off = AugmentConfig(tracker_p=0, layout_p=0, joint_dropout_p=0, lead_crop_p=0,
                        root_lock_p=0.0)
    on = AugmentConfig(**{**off.to_dict(), "layouts": tuple(off.layouts), "root_lock_p": 1.0})
    x_off, m_off, _ = training_sample(record, config, off, np.random.default_rng(1))
    x_on, m_on, _ = training_sample(record, config, on, np.random.default_rng(1))
    travel = np.ptp(x_off[m_off[:, 0], 0, 0])
    assert travel > 1.0 and np.ptp(x_on[m_on[:, 0], 0, 0]) < 1e-5


@pytest.mark.parametrize("split", ["walkers", "random"])
def test_person_folds(split):
    from emotion_node.evaluation.loco import fold_keys, person_folds

    infos = [ClipInfo(Path(f"{p}_{e}.npy"), "gait", e, 0, "emotion-gait",
                      "normal" if e == "neutral" else e, p if p != "x" else None,
                      "numbered" if p != "x" else "scene")
             for p in ("1", "2", "3", "4", "5", "6", "x", "x")
             for e in ("neutral", "happy", "sad", "angry")] + [BANDAI]
    folds = person_folds(infos, split, folds=3)
    assert folds[-1] is None  # Bandai has no people: its folds are actions
    assert fold_keys(infos)[-1] == "walk"
    turn = ClipInfo(Path("t.bvh"), "walk-turn-left", "normal", 1, "dataset-2", "normal")
    wave = ClipInfo(Path("w.bvh"), "wave-left-hand", "normal", 1, "dataset-2", "normal")
    # A family fold holds out the mirror action and the turns with the walk.
    assert fold_keys([turn, wave], "family") == ["walk", "wave"]
    assert fold_keys([turn, wave]) == ["walk-turn-left", "wave-left-hand"]
    by_person: dict = {}
    for info, fold in zip(infos[:-1], folds[:-1]):
        by_person.setdefault(info.person_key, set()).add(fold)
    straddles = any(len(v) > 1 for v in by_person.values())
    assert straddles == (split == "random")
    assert len(set(folds[:-1])) == 3
