"""`emotion-node evaluate` on a small folder of real clips, with and without the LLM."""
import argparse
import json
import re

import numpy as np
import pytest
import torch

from emotion_node.commands import evaluate as evaluate_command
from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer
from emotion_node.skeleton.dataset import default_data_root


@pytest.fixture(scope="module")
def data_root():
    try:
        return default_data_root()
    except FileNotFoundError as err:
        pytest.skip(f"motion dataset not available: {err}")


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory, data_root):
    """Four real clips: three emotion styles and one style outside the model's labels."""
    folder = tmp_path_factory.mktemp("clips")
    (folder / "data").mkdir()
    for name in ("dataset-1_bow_happy_001", "dataset-1_bow_sad_001",
                 "dataset-1_walk-left_angry_001", "dataset-1_bow_giant_001"):
        for ext in (".bvh", ".json"):
            (folder / "data" / (name + ext)).symlink_to(data_root / "data" / (name + ext))
    (folder / "cfg").symlink_to(data_root / "cfg")
    return folder


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model")
    config = TokenizerConfig(stem_channels=8, channels=16, token_dim=16)
    return save_tokenizer(SkeletonTokenizer(config).eval(), config, directory)


def _args(*argv):
    """Parse `emotion-node evaluate` options as the command line would."""
    parser = argparse.ArgumentParser()
    evaluate_command.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def test_evaluate_command_writes_the_documented_json(small_folder, small_model, tmp_path):
    out = tmp_path / "result.json"
    args = _args("--data", small_folder, "--model", small_model, "--json", out,
                  "--threads", 1)
    assert evaluate_command.main(args) == 0
    result = json.loads(out.read_text())
    for key in ("clip_accuracy", "window_accuracy", "macro_f1", "labels", "clips", "skipped"):
        assert key in result
    assert result["skipped"] == 1  # the giant clip
    assert [c["file"] for c in result["clips"]] == [
        "dataset-1_bow_happy_001.bvh", "dataset-1_bow_sad_001.bvh",
        "dataset-1_walk-left_angry_001.bvh"]
    for clip in result["clips"]:
        assert set(clip) == {"file", "dataset", "style", "person", "label", "predicted",
                             "confidence"}
        assert clip["predicted"] in result["labels"] and 0.0 < clip["confidence"] <= 1.0
    hits = np.mean([c["label"] == c["predicted"] for c in result["clips"]])
    assert result["clip_accuracy"] == pytest.approx(hits)
    assert result["num_windows"] > result["num_clips"] == 3


# Bandai joint names -> other conventions' (a name used by several means other joints in each).
_BANDAI_TO = {
    "mixamo": {"Hips": "mixamorig:Hips", "Spine": "mixamorig:Spine1",
               "Chest": "mixamorig:Spine2", "Neck": "mixamorig:Neck", "Head": "mixamorig:Head",
               **{f"{b}_{s}": f"mixamorig:{side}{m}" for s, side in (("L", "Left"), ("R", "Right"))
                  for b, m in (("Shoulder", "Shoulder"), ("UpperArm", "Arm"),
                               ("LowerArm", "ForeArm"), ("Hand", "Hand"), ("UpperLeg", "UpLeg"),
                               ("LowerLeg", "Leg"), ("Foot", "Foot"), ("Toes", "ToeBase"))}},
    "vicon": {"Hips": "Hips", "Spine": "Spine", "Chest": "Spine1", "Neck": "Neck", "Head": "Head",
              **{f"{b}_{s}": f"{side}{m}" for s, side in (("L", "Left"), ("R", "Right"))
                 for b, m in (("Shoulder", "Collar"), ("UpperArm", "Shoulder"),
                              ("LowerArm", "Elbow"), ("Hand", "Wrist"), ("UpperLeg", "Hip"),
                              ("LowerLeg", "Knee"), ("Foot", "Ankle"), ("Toes", "Toe"))}},
}


def _renamed_bvh(source, target, names):
    """A copy of a BVH file whose joints are renamed (the motion is the same)."""
    head, motion = source.read_text().split("MOTION", 1)
    renamed = re.sub(r"(JOINT|ROOT) (\S+)", lambda m: f"{m[1]} {names.get(m[2], m[2])}", head)
    assert "UpperArm_L" not in renamed and names["UpperArm_L"] in renamed
    target.write_text(renamed + "MOTION" + motion)
    return target


def test_a_lab_folder_of_other_conventions_scores_like_the_original(
        data_root, small_model, tmp_path):
    """A lab's own folder (labels.csv, BVH of other mocap conventions, no joint map) reads
    the same motion as the Bandai original, so every clip gets the original's prediction."""
    source = data_root / "data" / "dataset-1_walk_sad_001.bvh"
    lab = tmp_path / "lab"
    lab.mkdir()
    rows = ["file,label,action,person"]
    for convention, names in _BANDAI_TO.items():
        _renamed_bvh(source, lab / f"{convention}.bvh", names)
        rows.append(f"{convention}.bvh,sad,walk,{convention}-walker")
    (lab / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "lab.json"
    assert evaluate_command.main(_args("--data", lab, "--model", small_model, "--json", out,
                                       "--threads", 1)) == 0
    result = json.loads(out.read_text())
    (lone := tmp_path / "original").mkdir()
    (lone / source.name).symlink_to(source)
    reference = tmp_path / "original.json"
    assert evaluate_command.main(_args("--data", lone, "--model", small_model, "--json",
                                       reference, "--threads", 1)) == 0
    want = json.loads(reference.read_text())["clips"][0]
    assert [c["file"] for c in result["clips"]] == ["mixamo.bvh", "vicon.bvh"]
    for clip in result["clips"]:
        assert (clip["dataset"], clip["label"], clip["person"]) == (
            "folder", "sad", clip["file"][:-4] + "-walker")
        assert (clip["predicted"], clip["confidence"]) == (want["predicted"],
                                                          want["confidence"])


def test_evaluate_command_rejects_a_missing_folder(tmp_path, capsys):
    args = _args("--data", tmp_path / "nope", "--threads", 1)
    assert evaluate_command.main(args) == 2
    assert "nope" in capsys.readouterr().err


def test_evaluate_command_reports_a_missing_model(small_folder, tmp_path, capsys):
    args = _args("--data", small_folder, "--model", tmp_path / "no_model", "--threads", 1)
    assert evaluate_command.main(args) == 2
    assert "no_model" in capsys.readouterr().err


def test_evaluate_command_adds_the_llm_scores(tiny_llm, tmp_path, monkeypatch, capsys):
    """`emotion-node evaluate --llm` on a folder of real clips (tiny tokenizer and LLM)."""
    from emotion_node.model.model_files import tokenizer_fingerprint

    monkeypatch.setenv("EMOTION_NODE_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    data.mkdir()
    for style in ("happy", "sad", "active"):  # active: not an emotion style, skipped
        name = f"dataset-1_bow_{style}_001.bvh"
        (data / name).symlink_to(default_data_root() / "data" / name)
    torch.manual_seed(0)
    config = TokenizerConfig(token_dim=tiny_llm.D, channels=32, stem_channels=16)
    model_dir = save_tokenizer(SkeletonTokenizer(config).eval(), config, tmp_path / "model")
    explainer = tiny_llm.explainer(reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7},
                           max_new_tokens=4)
    explainer.config.training["tokenizer"] = tokenizer_fingerprint(model_dir)
    explainer.save(model_dir / "explainer")

    out = tmp_path / "eval.json"
    args = _args("--data", data, "--model", model_dir, "--llm", "--llm-max-windows", 5,
                 "--threads", 1, "--json", out)
    assert evaluate_command.main(args) == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["num_clips"] == 2 and result["skipped"] == 1
    for key in ("llm_clip_accuracy", "llm_window_accuracy", "agreement", "same_as_template",
                "distinct_2"):
        assert 0.0 <= result[key] <= 1.0, key
    assert isinstance(result["label_cue_clashes"], int)
    # Four random tokens make no movement claim: faithfulness has nothing to judge.
    claims = result["llm"]["modes"]["explain_label"]["claims"]
    assert (result["faithfulness"] is None) == (claims == 0)
    assert result["llm"]["windows"] == 5 and result["llm"]["contents"] == ["bow"]
    assert set(result["llm"]["modes"]) == {"explain_label", "recognise", "template",
                                           "coherent_template", "composer"}
    # Under the grammar the LLM writes every published answer, and each of its claims holds.
    assert result["llm_written_share"] == 1.0
    assert result["llm_own_faithfulness"] in (None, 1.0)
    assert "LLM on 5 windows" in capsys.readouterr().out

    # An explainer trained on another tokenizer is refused with a clear message.
    explainer.config.training["tokenizer"] = "0123456789abcdef"
    explainer.save(model_dir / "explainer")
    assert evaluate_command.main(args) == 2
    assert "retrain the explainer" in capsys.readouterr().err


def test_evaluate_llm_scores_the_modes_asked(monkeypatch, capsys):
    from emotion_node.commands import evaluate_llm as command
    from emotion_node.evaluation import evaluate_llm as module

    seen = {}

    def scored(*args, **kwargs):
        seen.update(kwargs)
        if not {"explain_label", "recognise"} <= set(kwargs["modes"]):
            raise ValueError("modes must include explain_label and recognise")
        return {"windows": 1}

    monkeypatch.setattr(module, "evaluate_llm", scored)
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert command.main(parser.parse_args(["--modes", "explain_label", "recognise"])) == 0
    assert seen["modes"] == ("explain_label", "recognise")
    assert command.main(parser.parse_args([])) == 0 and seen["modes"] == module.MODES
    assert command.main(parser.parse_args(["--modes", "tokens_only"])) == 2
    assert "modes must include" in capsys.readouterr().err


def test_evaluate_reads_walkers_against_their_own_baseline(egait_root, small_model, tmp_path,
                                                             capsys):
    """Four walkers' four walks and an unnamed library's gaits: every walk of a named walker
    gets a baseline from their other walks, the library's gaits (people unknown) none; the
    neutral mode leaves out the walker's own neutral walk; strength 0 changes nothing."""
    out = tmp_path / "others.json"
    assert evaluate_command.main(_args("--data", egait_root, "--model", small_model,
                                       "--baseline", "others", "--json", out,
                                       "--threads", 1)) == 0
    assert "person baseline (others, strength 0.5): 16 clips have one" in capsys.readouterr().out
    result = json.loads(out.read_text())
    part = result["person_baseline"]
    assert (part["clips_with_baseline"], part["clips_without_baseline"]) == (16, 4)
    assert part["population"].startswith("the scored clips")  # this model records none
    assert part["acted"]["clips"] == 16 and "paired" in part["acted"]
    for key in ("absolute", "relative"):
        assert part[key]["num_clips"] == 16
    named = [c for c in result["clips"] if c["person"]]
    assert len(named) == 16 and all("acted" in c for c in named)
    unnamed = [c for c in result["clips"] if not c["person"]]
    assert all(c["predicted_relative"] == c["predicted"] for c in unnamed)

    neutral = tmp_path / "neutral.json"
    assert evaluate_command.main(_args("--data", egait_root, "--model", small_model,
                                       "--baseline", "neutral", "--baseline-strength", 0,
                                       "--json", neutral, "--threads", 1)) == 0
    result = json.loads(neutral.read_text())
    assert result["person_baseline"]["clips_with_baseline"] == 12
    assert all(c["predicted_relative"] == c["predicted"] for c in result["clips"])

    stream = tmp_path / "stream.json"
    assert evaluate_command.main(_args("--data", egait_root, "--model", small_model,
                                       "--baseline", "stream", "--baseline-min-s", 0,
                                       "--json", stream, "--threads", 1)) == 0
    assert json.loads(stream.read_text())["person_baseline"]["clips_with_baseline"] == 12


def test_evaluate_baseline_needs_clips_that_name_their_person(small_folder, small_model,
                                                              capsys):
    assert evaluate_command.main(_args("--data", small_folder, "--model", small_model,
                                       "--baseline", "others", "--threads", 1)) == 2
    assert "needs clips whose person is known" in capsys.readouterr().err
