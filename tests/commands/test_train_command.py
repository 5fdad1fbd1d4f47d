"""`emotion-node train`: --set reaches the nested configs; unknown settings are refused."""


def _train_args(*argv):
    import argparse

    from emotion_node.commands import train as train_command

    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return train_command, parser.parse_args(list(argv))


def test_train_command_settings_reach_the_nested_configs():
    command, args = _train_args("--set", "style_weight=0", "--set", "augment.reverse_p=0.25",
                                "--set", "tokenizer.strides=[2, 2]", "--finetune-steps", "7",
                                "--set", "tokenizer.preprocess.window_frames=45")
    cfg = command._train_config(args)
    assert cfg.style_weight == 0 and cfg.augment.reverse_p == 0.25 and cfg.finetune_steps == 7
    assert cfg.tokenizer.strides == (2, 2) and cfg.tokenizer.preprocess.window_frames == 45
    assert cfg.tokenizer.num_temporal_tokens == 6  # 45 frames, three stride-2 stages


def test_train_command_rejects_an_unknown_setting(capsys, tmp_path):
    command, args = _train_args("--set", "augment.wobble=1", "--out", str(tmp_path))
    assert command.main(args) == 2
    assert "augment.wobble" in capsys.readouterr().err
    command, args = _train_args("--set", "tokenizer.preprocess={}", "--out", str(tmp_path))
    assert command.main(args) == 2
    assert "tokenizer.preprocess" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_train_command_study_options_reach_the_study(monkeypatch, tmp_path):
    from emotion_node.evaluation import loco, loco_report

    seen = {}

    def study(data, cfg, out, **kwargs):
        seen.update(kwargs, data=data, weights=cfg.dataset_weights)
        return {}

    monkeypatch.setattr(loco, "run_loco", study)
    monkeypatch.setattr(loco_report, "summary_markdown", lambda results: "")
    command, args = _train_args("--loco", str(tmp_path), "--fold-by", "family",
                                "--person-split", "random", "--no-robustness",
                                "--set", 'dataset_weights={"emotion-gait": 2}')
    assert command.main(args) == 0
    assert (seen["fold_by"], seen["person_split"], seen["layouts"], seen["damages"]) == (
        "family", "random", (), ())
    assert seen["weights"] == {"emotion-gait": 2}
    command, args = _train_args("--loco", str(tmp_path))
    seen.clear()
    assert command.main(args) == 0
    assert (seen["fold_by"], seen["person_split"]) == ("action", "walkers")
    assert "layouts" not in seen  # the study's own defaults: every robustness variant
