"""Tracker damage: every kind does what it says, and no damage changes nothing."""
import numpy as np
import pytest

from emotion_node.skeleton.bvh import read_bvh_canonical
from emotion_node.skeleton.damage import (
    DAMAGE_KINDS, LOWER_BODY, DamageAugment, TrackerDamage, damage_kind, damage_stream,
    random_damage, rescale_bones)
from emotion_node.skeleton.layouts import CANONICAL_INDEX as I


@pytest.fixture(scope="module")
def stream(clip_path):
    pos, mask, fps = read_bvh_canonical(clip_path("walk", "happy"))
    return np.arange(len(pos)) / fps, pos, mask


def test_no_damage_changes_nothing_and_draws_nothing(stream):
    stamps, pos, mask = stream
    rng = np.random.default_rng(0)
    out = damage_stream(stamps, pos, mask, TrackerDamage(), rng)
    for a, b in zip(out, stream):
        np.testing.assert_array_equal(a, b)
    assert rng.random() == np.random.default_rng(0).random()  # no number was drawn


def test_each_kind(stream):
    stamps, pos, mask = stream
    rng = np.random.default_rng(1)
    _, _, m = damage_stream(stamps, pos, mask, damage_kind("upper_body"), rng)
    assert not m[:, list(LOWER_BODY)].any() and m[:, I["hip_l"]].all() and m[:, I["head"]].all()
    _, p, m = damage_stream(stamps, pos, mask, damage_kind("jitter_2cm"), rng)
    noise = (p - pos)[m]
    assert noise.std() == pytest.approx(0.02, rel=0.05) and m.all()
    _, _, m = damage_stream(stamps, pos, mask, damage_kind("dropout_10pct"), rng)
    assert 0.12 < 1.0 - m.mean() < 0.17  # 10 % of joints, and 5 % of whole frames
    s, p, m = damage_stream(stamps, pos, mask, damage_kind("rate_15hz"), rng)
    assert s[-1] == stamps[-1] and np.allclose(np.diff(s), 1 / 15)  # stamped on the beat
    assert len(s) == pytest.approx(len(stamps) / 2, abs=1) and m.all()
    with pytest.raises(ValueError, match="known"):
        damage_kind("fog")


def test_child_proportions_change_bones_not_the_root(stream):
    _, pos, mask = stream
    out = rescale_bones(pos[:5], mask[:5], (0.5, 1.0, 1.0, 1.0))
    np.testing.assert_allclose(out[:, I["pelvis"]], pos[:5, I["pelvis"]])
    np.testing.assert_allclose(out[:, I["wrist_l"]], pos[:5, I["wrist_l"]], atol=1e-5)
    shin = np.linalg.norm(pos[:5, I["ankle_l"]] - pos[:5, I["knee_l"]], axis=-1)
    new = np.linalg.norm(out[:, I["ankle_l"]] - out[:, I["knee_l"]], axis=-1)
    np.testing.assert_allclose(new, 0.5 * shin, rtol=1e-5)


def test_random_damage_is_off_by_default_and_varied_when_on():
    rng = np.random.default_rng(0)
    assert random_damage(rng, DamageAugment()) is None
    drawn = [random_damage(rng, DamageAugment(p=1.0, lower_body_p=0.5)) for _ in range(200)]
    assert all(d is not None for d in drawn)
    assert 60 < sum(d.lower_body for d in drawn) < 140
    assert {d.rate_hz for d in drawn} == {0.0, 15.0, 30.0, 60.0}
    assert TrackerDamage.from_dict(drawn[0].to_dict()) == drawn[0]
    assert set(DAMAGE_KINDS) >= {"upper_body", "jitter_2cm", "dropout_10pct", "rate_15hz"}
