"""Joint layouts: names, trees, by-name canonical mapping and its inverse."""

import numpy as np
import pytest

from emotion_node.skeleton.layouts import (
    BODY_PARTS, CANONICAL_JOINTS, CANONICAL_PARENTS, NUM_JOINTS, get_layout,
    layout_from_joint_names, layout_presence, map_from_canonical, map_to_canonical)

EXPECTED_SIZES = {"canonical": 21, "bandai": 21, "k4abt": 32, "zed_body18": 18, "zed_body34": 34,
                  "zed_body38": 38, "kinect_v2": 25, "coco17": 17, "mediapipe33": 33}
C = {n: i for i, n in enumerate(CANONICAL_JOINTS)}


def test_canonical_tree_and_parts():
    assert NUM_JOINTS == len(CANONICAL_JOINTS) == len(CANONICAL_PARENTS) == 21
    assert CANONICAL_PARENTS[0] == -1
    assert all(0 <= p < i for i, p in enumerate(CANONICAL_PARENTS) if i > 0)
    parts = sorted(i for idx in BODY_PARTS.values() for i in idx)
    assert parts == list(range(NUM_JOINTS))
    assert set(BODY_PARTS) == {"torso", "head", "left_arm", "right_arm", "left_leg", "right_leg"}


@pytest.mark.parametrize("name", sorted(EXPECTED_SIZES))
def test_layout_is_well_formed(name):
    lay = get_layout(name)
    assert lay.name == name and len(lay.joints) == EXPECTED_SIZES[name]
    assert len(set(lay.joints)) == len(lay.joints), "duplicate joint names"
    assert len(lay.parents) == len(lay.joints)
    assert sum(p == -1 for p in lay.parents) == 1
    for i in range(len(lay.joints)):  # every joint reaches the root without cycles
        seen, j = set(), i
        while j != -1:
            assert j not in seen and 0 <= j < len(lay.joints)
            seen.add(j)
            j = lay.parents[j]
    for src, dst in lay.canonical.items():
        assert src in lay.joints and dst in CANONICAL_JOINTS
        low = src.lower()
        if "left" in low or low.endswith("_l"):
            assert dst.endswith("_l") or dst == "head", (src, dst)
        if "right" in low or low.endswith("_r"):
            assert dst.endswith("_r") or dst == "head", (src, dst)


def test_semantic_aliases():
    bandai = get_layout("bandai").canonical
    assert bandai["Shoulder_L"] == "clavicle_l" and bandai["UpperArm_L"] == "shoulder_l"
    assert bandai["Hand_R"] == "wrist_r" and bandai["Toes_L"] == "toe_l"
    k4 = get_layout("k4abt")
    assert k4.joints[0] == "PELVIS" and k4.joints[26] == "HEAD" and k4.joints[31] == "EAR_RIGHT"
    assert k4.joints[4] == "CLAVICLE_LEFT" and k4.joints[18] == "HIP_LEFT"
    assert k4.canonical["FOOT_LEFT"] == "toe_l"
    assert get_layout("kinect_v2").joints[20] == "SpineShoulder"
    assert get_layout("zed_body34").canonical["NAVAL_SPINE"] == "spine"
    assert not layout_presence("coco17")[[C["pelvis"], C["spine"], C["chest"], C["neck"]]].any()
    assert layout_presence("bandai").all() and layout_presence("k4abt").all()


def test_unknown_layout_lists_known_names():
    with pytest.raises(ValueError, match="k4abt"):
        get_layout("kinect_v9")


def test_layout_from_joint_names():
    assert layout_from_joint_names(get_layout("k4abt").joints) is get_layout("k4abt")
    adhoc = layout_from_joint_names(["HEAD", "LEFT_EAR", "RIGHT_EAR", "PELVIS"])
    assert adhoc.canonical == {"HEAD": "head", "PELVIS": "pelvis"}  # direct head beats ears
    ears = layout_from_joint_names(["LEFT_EAR", "RIGHT_EAR", "left_wrist"])
    assert ears.canonical == {"LEFT_EAR": "head", "RIGHT_EAR": "head", "left_wrist": "wrist_l"}
    with pytest.raises(ValueError, match="Elbow_Lft"):
        layout_from_joint_names(["PELVIS", "Elbow_Lft"])


def test_missing_and_low_confidence_joints_are_masked():
    coco = get_layout("coco17")
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(4, 17, 3))
    conf = np.full((4, 17), 0.9)
    conf[1, coco.joints.index("left_wrist")] = 0.1
    pos[2, coco.joints.index("right_knee"), 1] = np.nan
    out, mask = map_to_canonical(pos, coco, conf, min_confidence=0.5)
    assert out.shape == (4, 21, 3) and out.dtype == np.float32 and mask.shape == (4, 21)
    for name in ("pelvis", "spine", "chest", "neck", "clavicle_l", "toe_r"):
        assert not mask[:, C[name]].any() and (out[:, C[name]] == 0).all()
    assert not mask[1, C["wrist_l"]] and mask[0, C["wrist_l"]]
    assert not mask[2, C["knee_r"]] and (out[2, C["knee_r"]] == 0).all()
    ears = [coco.joints.index("left_ear"), coco.joints.index("right_ear")]
    np.testing.assert_allclose(out[0, C["head"]], pos[0, ears].mean(0), rtol=1e-5)
    np.testing.assert_allclose(out[0, C["elbow_r"]], pos[0, coco.joints.index("right_elbow")],
                               rtol=1e-5)


def test_wrong_shape_is_rejected():
    with pytest.raises(ValueError, match="k4abt"):
        map_to_canonical(np.zeros((5, 21, 3)), get_layout("k4abt"))


@pytest.mark.parametrize("name", sorted(EXPECTED_SIZES))
def test_round_trip_through_layout(name):
    lay = get_layout(name)
    rng = np.random.default_rng(1)
    canon = rng.normal(size=(3, 21, 3)).astype(np.float32)
    cmask = np.ones((3, 21), dtype=bool)
    cmask[0, C["elbow_l"]] = False
    pos, valid = map_from_canonical(canon, cmask, lay)
    assert pos.shape == (3, len(lay.joints), 3) and valid.shape == (3, len(lay.joints))
    back, bmask = map_to_canonical(pos, lay, valid.astype(float), min_confidence=0.5)
    present = layout_presence(name)
    averaged = [C["head"]] if list(lay.canonical.values()).count("head") > 1 else []
    expect = cmask & present
    expect[:, averaged] = False
    np.testing.assert_array_equal(bmask, expect)
    np.testing.assert_allclose(back[bmask], canon[bmask])
    assert (back[~bmask] == 0).all()
