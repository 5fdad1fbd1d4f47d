"""A tiny real training run, the text descriptions and the contrastive loss."""
import numpy as np
import pytest
import torch

from emotion_node.training.data import (
    AugmentConfig, BalancedSampler, build_pool, cut_window, load_records, raw_eval_windows)
from emotion_node.training.descriptions import cue_levels, describe, neutral_stats
from emotion_node.training.train_tokenizer import (
    TrainConfig, clip_cues, clip_loss, fold_temperature, train_tokenizer)
from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig
from emotion_node.skeleton.dataset import DATASETS, default_data_root, index_clips
from emotion_node.skeleton.preprocess import PreprocessConfig

_CLIPS = (("bow", "happy"), ("bow", "sad"), ("bye", "happy"), ("bye", "sad"),
          ("bow", "normal"), ("bye", "normal"))


@pytest.fixture(scope="module")
def records():
    try:
        clips = index_clips(default_data_root())
    except FileNotFoundError as err:
        pytest.skip(f"motion dataset not available: {err}")
    chosen = [c for c in clips if (c.content, c.style) in _CLIPS]
    assert len(chosen) == len(_CLIPS)
    return load_records(chosen)


def _tiny_config(**kw) -> TrainConfig:
    tok = TokenizerConfig(stem_channels=16, channels=24, token_dim=32,
                          labels=("normal", "happy", "sad"))
    return TrainConfig(tokenizer=tok, batch_size=16, pool_per_clip=8, threads=1, **kw)


def test_a_tiny_training_run_reduces_the_loss(records):
    cfg = _tiny_config(align=False, finetune_steps=60, finetune_lr=3e-3)
    model, history = train_tokenizer(records, range(len(records)), [], cfg, progress=False)
    losses = history["classify"]
    assert len(losses) == 60 and not model.training
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.1


def test_alignment_pretraining_runs_on_real_descriptions(records):
    cfg = _tiny_config(align=True, pretrain_steps=5, finetune_steps=2)
    _, history = train_tokenizer(records, range(len(records)), range(len(records)), cfg,
                                 progress=False)
    assert len(history["align"]) == 5 and history["texts"] >= 3  # at least one text per style
    assert all(np.isfinite(history["align"]))


def test_clip_loss_prefers_matching_pairs_and_handles_shared_texts():
    texts = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    target = torch.tensor([0, 1, 2, 2])  # two windows share text 2
    scale = torch.tensor(np.log(10.0))
    aligned = clip_loss(texts[target], texts, target, scale)
    shuffled = clip_loss(texts[torch.tensor([1, 2, 0, 1])], texts, target, scale)
    assert aligned < shuffled


def test_descriptions_name_cues_relative_to_neutral(records):
    cues = clip_cues(records, PreprocessConfig())
    stats = neutral_stats([c for _, c in cues], [r.info.content for r in records],
                          [r.info.style for r in records])
    bow_normal = cues[[r.info.style for r in records].index("normal")][1]
    assert (cue_levels(np.nanmean(bow_normal, 0), "bow", stats) == 0).all()
    slow = np.nanmean(bow_normal, 0).copy()
    slow[0] = stats.means["bow"][0] - 3 * stats.spread[0]
    text = describe("sad", cue_levels(slow, "bow", stats))
    assert text.startswith("A sad") and "moves slowly" in text


def test_training_cuts_match_evaluation_windows_at_normal_speed(records):
    config = PreprocessConfig()
    raw_eval, mask_eval, ends = raw_eval_windows(records[0], config)

    class _FixedEnd:  # stands in for the generator: "draw" the third window's end time
        def uniform(self, low, high):
            return float(ends[2])

    raw, mask, t_end = cut_window(records[0], config, 1.0, _FixedEnd())
    assert t_end == pytest.approx(ends[2])
    np.testing.assert_allclose(raw, raw_eval[2], atol=1e-5)
    np.testing.assert_array_equal(mask, mask_eval[2])


def test_sampler_balances_classes(records):
    config = PreprocessConfig()
    pool = build_pool(records, config, AugmentConfig(), per_clip=4, seed=0)
    classes = [0, 1, 0, 1, 0, 0]  # class 0 has four clips, class 1 two
    sampler = BalancedSampler(pool, range(len(records)), classes, AugmentConfig(), seed=0)
    _, _, clip, _ = sampler.batch(400)
    share = np.isin(clip, [1, 3]).mean()
    assert 0.4 < share < 0.6


def test_sampler_can_balance_groups_within_a_class(records):
    config = PreprocessConfig()
    pool = build_pool(records, config, AugmentConfig(), per_clip=4, seed=0)
    classes = [0, 0, 0, 0, 0, 0]
    groups = ["a", "a", "a", "a", "a", "b"]  # clip 5 alone in its group: half the draws
    plain = BalancedSampler(pool, range(len(records)), classes, AugmentConfig(), seed=0)
    grouped = BalancedSampler(pool, range(len(records)), classes, AugmentConfig(), seed=0,
                              groups=groups)
    assert (plain.batch(600)[2] == 5).mean() < 0.3
    assert 0.4 < (grouped.batch(600)[2] == 5).mean() < 0.6
    with pytest.raises(ValueError, match="one group per clip"):
        BalancedSampler(pool, range(len(records)), classes, AugmentConfig(), seed=0,
                        groups=groups[:2])


def test_fold_temperature_divides_the_logits():
    model = SkeletonTokenizer(TokenizerConfig(stem_channels=8, channels=16, token_dim=16)).eval()
    x, mask = torch.randn(2, 30, 21, 3), torch.ones(2, 30, 21)
    with torch.no_grad():
        before = model(x, mask)[0]
        after = fold_temperature(model, 2.0)(x, mask)[0]
    torch.testing.assert_close(after, before / 2.0)


def test_joint_training_over_two_datasets(two_dataset_roots):
    """Dataset 2's exhausted trains as tired; each dataset's styles get their own head."""
    from emotion_node.skeleton.dataset import emotion_clips
    from emotion_node.training.train_tokenizer import AuxHeads, head_index, stratum

    clips = index_clips(two_dataset_roots)
    recs = load_records(clips)
    labels = ("normal", "happy", "sad", "angry", "proud", "not-confident", "tired")
    tok = TokenizerConfig(stem_channels=16, channels=24, token_dim=32, labels=labels)
    cfg = TrainConfig(tokenizer=tok, batch_size=16, pool_per_clip=4, threads=1, align=False,
                      finetune_steps=3, emotion_share=0.5, weight_average=0.9,
                      augment=AugmentConfig(tracker_p=0.5))
    chosen = emotion_clips(clips, labels)
    assert {clips[i].style for i in chosen if clips[i].emotion == "tired"} == {
        "tired", "exhausted"}
    model, history = train_tokenizer(recs, chosen, range(len(recs)), cfg, progress=False)
    assert len(history["classify"]) == 3 and all(np.isfinite(history["classify"]))
    heads = AuxHeads(8, 2, ["dataset-1", "dataset-2"])
    assert heads.style["dataset-1"].out_features == 15
    assert heads.style["dataset-2"].out_features == 7
    d2 = next(c for c in clips if c.dataset == "dataset-2" and c.style == "youthful")
    assert head_index(d2) == 6 and stratum(d2) == 15 + 6  # after Dataset 1's fifteen
    with torch.no_grad():  # uniform heads: each window's loss is log(its head's classes)
        for head in heads.style.values():
            head.weight.zero_()
            head.bias.zero_()
    loss = heads.style_loss(torch.zeros(2, 8), [clips[0], d2])
    assert loss.detach().item() == pytest.approx(0.5 * (np.log(15) + np.log(7)), rel=1e-5)


def test_stratum_weights_keep_every_emotion_equal(two_dataset_roots):
    """Dataset 2's many normal and tired clips count as much as Dataset 1's few."""
    from emotion_node.training.train_tokenizer import stratum, stratum_weights

    clips = index_clips(two_dataset_roots)
    weights = stratum_weights(clips, emotion_share=0.6)
    assert sum(weights.values()) == pytest.approx(1.0)
    by = {(c.dataset, c.style): weights[stratum(c)] for c in clips}
    per_label = {}
    for (key, style), w in by.items():
        label = DATASETS[key].emotion_of(style)
        if label is not None:
            per_label[label] = per_label.get(label, 0.0) + w
    assert set(per_label) == {"normal", "happy", "sad", "angry", "proud", "not-confident",
                              "tired"}
    assert all(w == pytest.approx(0.6 / 7) for w in per_label.values())
    assert by[("dataset-2", "exhausted")] == pytest.approx(by[("dataset-1", "tired")])
    assert by[("dataset-2", "youthful")] == pytest.approx(0.4 / 2)  # old, youthful
    with pytest.raises(ValueError, match="emotion_share"):
        stratum_weights(clips, 0.0)


def test_weight_average_follows_the_weights():
    from emotion_node.training.train_tokenizer import WeightAverage

    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.fill_(0.0)
    average = WeightAverage(net, decay=0.5)
    with torch.no_grad():
        net.weight.fill_(1.0)
    average.update(net)
    average.update(net)
    average.copy_to(net)
    np.testing.assert_allclose(net.weight.detach().numpy(), 0.75)
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(net, 1.0)


def test_tracker_damage_off_leaves_training_windows_unchanged(records):
    from emotion_node.skeleton.preprocess import preprocess_window
    from emotion_node.training.data import _drop_joints, training_sample

    # The cut of the recipe before tracker damage (and before root locking), by hand.
    config, aug = PreprocessConfig(), AugmentConfig(tracker_p=0.0, root_lock_p=0.0)
    rng = np.random.default_rng(3)
    speed = float(rng.uniform(1.0 - aug.time_warp, 1.0 + aug.time_warp))
    raw, mask, t_end = cut_window(records[0], config, speed, rng)
    plain = (*preprocess_window(raw, _drop_joints(mask, aug, rng), config), t_end)
    off = training_sample(records[0], config, aug, np.random.default_rng(3))
    for a, b in zip(plain, off):
        np.testing.assert_array_equal(a, b)
    damaged = [training_sample(records[0], config, AugmentConfig(tracker_p=1.0),
                               np.random.default_rng(seed))[1].mean() for seed in range(20)]
    assert min(damaged) < 0.95  # some windows lose joints, as a tracker's would


def test_the_action_critic_leaves_out_datasets_of_one_action():
    """Emotion-Gait's gaits are all one action: the critic would tell them apart from every
    Bandai action by their joint set alone, so by default they stay out of it."""
    from types import SimpleNamespace

    from emotion_node.training.train_tokenizer import TrainConfig, critic_contents

    def record(dataset, content):
        return SimpleNamespace(info=SimpleNamespace(dataset=dataset, content=content))
    records = [record("dataset-1", "walk"), record("dataset-1", "bow"),
               record("dataset-2", "walk"), record("emotion-gait", "gait")]
    ids = range(len(records))
    assert not TrainConfig().adversary_single_action
    assert critic_contents(records, ids, False) == ["bow", "walk"]
    assert critic_contents(records, ids, True) == ["bow", "gait", "walk"]
    assert critic_contents(records, [3], False) == []  # the gaits alone: no critic at all


def test_a_final_stage_trains_on_the_named_datasets_only(two_dataset_roots):
    """`final_steps` more steps on one dataset's clips after the joint fine-tuning; none when
    no training clip is of a named dataset."""
    from emotion_node.skeleton.dataset import emotion_clips

    clips = index_clips(two_dataset_roots)
    recs = load_records(clips)
    labels = ("normal", "happy", "sad", "angry", "proud", "not-confident", "tired")
    tok = TokenizerConfig(stem_channels=16, channels=24, token_dim=32, labels=labels)
    chosen = emotion_clips(clips, labels)
    cfg = TrainConfig(tokenizer=tok, batch_size=16, pool_per_clip=4, threads=1, align=False,
                      finetune_steps=2, final_steps=3, final_datasets=["dataset-2"])
    _, history = train_tokenizer(recs, chosen, range(len(recs)), cfg, progress=False)
    assert len(history["classify"]) == 2 and len(history["final"]) == 3
    assert all(np.isfinite(history["final"]))
    cfg = TrainConfig(tokenizer=tok, batch_size=16, pool_per_clip=4, threads=1, align=False,
                      finetune_steps=2, final_steps=3)  # Emotion-Gait: not in these roots
    _, history = train_tokenizer(recs, chosen, range(len(recs)), cfg, progress=False)
    assert "final" not in history
