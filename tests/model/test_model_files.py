"""Model folder files: where the default model is found, with and without a sourced ROS
environment (the ROS-side files: tests/ros/test_package_files.py), and tokenizer fingerprints."""
import json

import torch

from emotion_node.model import model_files


def test_default_model_is_found_without_a_ros_environment(monkeypatch):
    # ROS wheels installed but not sourced: the ament index raises instead of answering.
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    directory = model_files.default_model_dir()
    assert (directory / model_files.CONFIG_FILE).is_file()
    assert (directory / model_files.WEIGHTS_FILE).is_file()


def test_an_unfound_model_is_a_path_to_report_not_a_crash(monkeypatch, tmp_path):
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    root = tmp_path / "a" / "b" / "c" / "d"
    monkeypatch.setattr(model_files, "SOURCE_ROOT", root)
    monkeypatch.setattr(model_files, "__file__",
                        str(root / "emotion_node" / "runtime" / "model_files.py"))
    directory = model_files.default_model_dir()
    assert directory == root / "models" / "default"
    assert not directory.exists()


def test_tokenizer_fingerprint_ignores_classifier_and_metadata(tmp_path):
    from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer
    from emotion_node.model.model_files import tokenizer_fingerprint

    torch.manual_seed(0)
    config = TokenizerConfig()
    model = SkeletonTokenizer(config)
    base = tokenizer_fingerprint(save_tokenizer(model, config, tmp_path / "a"))
    with torch.no_grad():
        model.classifier.weight /= 1.5  # a calibration temperature folded in
    noted = TokenizerConfig.from_dict({**config.to_dict(), "training": {"note": "calibrated"}})
    assert tokenizer_fingerprint(save_tokenizer(model, noted, tmp_path / "b")) == base
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if not n.startswith("classifier")).add_(1e-3)
    assert tokenizer_fingerprint(save_tokenizer(model, config, tmp_path / "c")) != base


def test_explainer_mismatch_names_both_tokenizers(tmp_path):
    from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer
    from emotion_node.model.model_files import explainer_mismatch, tokenizer_fingerprint

    torch.manual_seed(0)
    config = TokenizerConfig()
    tokenizer = save_tokenizer(SkeletonTokenizer(config), config, tmp_path / "tok")
    explainer = tmp_path / "explainer"
    explainer.mkdir()
    for recorded, matches in ((tokenizer_fingerprint(tokenizer), True), (None, True),
                              ("0123456789abcdef", False)):
        config = {"training": {"tokenizer": recorded}}
        (explainer / "explainer.json").write_text(json.dumps(config))
        problem = explainer_mismatch(explainer, tokenizer)
        assert (problem == "") == matches, problem
    assert "0123456789abcdef" in problem and tokenizer_fingerprint(tokenizer) in problem
    # An ONNX-only deployment has no weights to hash: the pair is accepted unchecked.
    (tokenizer / "model.safetensors").unlink()
    assert explainer_mismatch(explainer, tokenizer) == ""
