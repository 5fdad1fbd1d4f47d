"""Explainer: projector splice, loss, generation, save/load and resumable training (tiny LLM)."""
import json

import numpy as np
import pytest
import torch

from emotion_node.model.explainer import (
    PLACEHOLDER, Explainer, ExplainerConfig, Prompt, SkeletonProjector)
from emotion_node.model.explanations import CUE_PHRASES, answer_text, description_text
from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.skeleton.cues import CUE_NAMES

torch.set_num_threads(1)
D, TT, P, K = 16, 4, 6, 2
CHAT = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _tiny_tokenizer():
    """A byte-level BPE tokenizer trained in-process on the explainer's own phrases."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [answer_text(s, []) for s in EMOTION_STYLES] + list(CUE_PHRASES.values())
    corpus += [Prompt(t, "sad", "speed high").user_text() for t in ("recognise", "explain")]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus * 3, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|im_end|>")
    fast.chat_template = CHAT
    return fast


def _tiny_llm(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.eos_token_id, tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    """A tiny random Llama + tokenizer saved as a local Hugging Face folder."""
    folder = tmp_path_factory.mktemp("tiny_llm")
    tokenizer = _tiny_tokenizer()
    _tiny_llm(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _explainer(llm_dir, **overrides):
    torch.manual_seed(0)
    settings = {"max_new_tokens": 12, **overrides}
    config = ExplainerConfig(llm=str(llm_dir), token_dim=D, projector_hidden=32, **settings)
    return Explainer.create(config)


def _tokens(batch, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((batch, n, D)).astype(np.float32) for n in (TT, P, K))


def test_projector_shapes_and_scale():
    proj = SkeletonProjector(D, 32, 48, embed_rms=0.05)
    out = proj(*(torch.randn(3, n, D) for n in (TT, P, K)))
    assert out.shape == (3, TT + P + K, 48)
    assert torch.allclose(out.pow(2).mean(-1).sqrt(), torch.full((3, TT + P + K), 0.05),
                          atol=1e-3)


def test_splice_places_tokens_at_the_placeholder(llm_dir):
    ex = _explainer(llm_dir)
    prompts = [Prompt("recognise", hint="speed high"), Prompt("explain", "sad")]
    tokens = _tokens(2)
    embeds, mask, labels = ex.embed(tokens, prompts)
    assert labels is None and embeds.shape[0] == 2 and embeds.shape[2] == 32
    skel = ex.projector(*(torch.from_numpy(t) for t in tokens))
    for i, prompt in enumerate(prompts):
        before, after = ex.prompt_ids(prompt)
        n = len(before) + TT + P + K + len(after)
        assert int(mask[i].sum()) == n and bool(mask[i, -n:].all())  # left-padded
        start = embeds.shape[1] - n + len(before)
        assert torch.allclose(embeds[i, start:start + TT + P + K], skel[i])
        words = ex.llm.get_input_embeddings()(torch.tensor(after))
        assert torch.allclose(embeds[i, -len(after):], words)
    assert PLACEHOLDER not in ex.tokenizer.decode(ex.prompt_ids(prompts[0])[1])


def test_answer_labels_and_loss_reach_projector_and_lora(llm_dir):
    ex = _explainer(llm_dir)
    prompts = [Prompt("recognise", hint="none"), Prompt("describe")]
    answers = [answer_text("sad", [("speed", -1)]), description_text("old", [])]
    embeds, mask, labels = ex.embed(_tokens(2), prompts, answers)
    for i, answer in enumerate(answers):
        ids = ex.tokenizer(answer, add_special_tokens=False)["input_ids"]
        got = labels[i][labels[i] != -100].tolist()
        assert got == ids + [ex.tokenizer.convert_tokens_to_ids("<|im_end|>")]
        assert bool(mask[i, 0])  # right-padded for training
    for name, p in ex.llm.named_parameters():
        p.requires_grad_("lora_" in name)
    loss = ex.loss(_tokens(2), prompts, answers)
    assert torch.isfinite(loss)
    loss.backward()
    assert ex.projector.mlp[0].weight.grad.abs().sum() > 0
    lora_a = [p for n, p in ex.llm.named_parameters() if "lora_A" in n]
    lora_b = [p for n, p in ex.llm.named_parameters() if "lora_B" in n]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in lora_b)
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in lora_a)  # B starts at 0


def test_batched_generation_matches_single(llm_dir):
    ex = _explainer(llm_dir)
    tokens = _tokens(2, seed=1)
    prompts = [Prompt("recognise", hint="speed high, tempo low"), Prompt("explain", "tired")]
    both, counts = ex.generate(tokens, prompts, max_new_tokens=8)
    for i in range(2):
        alone, _ = ex.generate([t[i:i + 1] for t in tokens], prompts[i:i + 1], max_new_tokens=8)
        assert alone[0] == both[i]
    assert all(1 <= c <= 8 for c in counts)


def test_explain_stops_at_the_deadline(llm_dir):
    import time

    ex = _explainer(llm_dir)
    single = [t[0] for t in _tokens(1)]
    with pytest.raises(TimeoutError):
        ex.explain(single, label="sad", deadline=time.monotonic() - 1.0)
    assert isinstance(ex.explain(single, label="neutral"), str)  # hri label accepted


def test_save_load_round_trip(llm_dir, tmp_path):
    ex = _explainer(llm_dir, reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7})
    with torch.no_grad():  # make the adapter non-trivial so the round trip is tested
        for name, p in ex.llm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    ex.save(tmp_path / "ex")
    files = sorted(f.name for f in (tmp_path / "ex").iterdir())
    assert files == ["adapter_config.json", "adapter_model.safetensors", "explainer.json",
                     "projector.safetensors"]
    saved = json.loads((tmp_path / "ex" / "adapter_config.json").read_text())
    assert saved["base_model_name_or_path"] == str(llm_dir)
    back = Explainer.load(tmp_path / "ex")
    for key, value in ex.projector.state_dict().items():
        assert torch.equal(value, back.projector.state_dict()[key])
    tokens = _tokens(1, seed=3)
    cues = dict(zip(CUE_NAMES, [2.0, 0, 0, 0, 0, 0, -3.0]))
    prompt = back.make_prompt("recognise", None, back.zscores(cues))
    assert prompt.hint == "slow rhythm, faster"
    assert back.generate(tokens, [prompt])[0] == ex.generate(tokens, [prompt])[0]
    fresh = _explainer(llm_dir)  # a different adapter must change the output
    assert fresh.generate(tokens, [prompt])[0] != back.generate(tokens, [prompt])[0]


def _table(n=42, seed=0):
    from emotion_node.training.window_table import WindowTable

    rng = np.random.default_rng(seed)
    styles = np.array([(list(EMOTION_STYLES) + ["old"])[i % 8] for i in range(n)])
    contents = np.array(["walk", "bow", "bye"])[np.arange(n) % 3]
    return WindowTable(
        temporal=rng.standard_normal((n, TT, D)).astype(np.float32),
        spatial=rng.standard_normal((n, P, D)).astype(np.float32),
        semantic=rng.standard_normal((n, K, D)).astype(np.float32),
        probs=rng.dirichlet(np.ones(len(EMOTION_STYLES)), n).astype(np.float32),
        cues=rng.standard_normal((n, len(CUE_NAMES))).astype(np.float32),
        contents=contents, styles=styles, clip=np.arange(n) // 4)


def test_training_runs_both_stages_and_resumes(llm_dir, tmp_path):
    from emotion_node.training.train_explainer import ExplainerTrainConfig, train_explainer

    table = _table()
    cfg = ExplainerTrainConfig(holdout=("bye",), stage1_steps=2, stage2_steps=3, batch_size=2,
                               threads=1, save_every=1, warmup_steps=1,
                               explainer={"projector_hidden": 32, "max_new_tokens": 8})
    ex, history = train_explainer(table, cfg, tmp_path / "run", llm=str(llm_dir),
                                  progress=False)
    assert [len(history["losses"][k]) for k in ("stage1", "stage2")] == [2, 3]
    assert history["holdout"] == ["bye"] and history["train_windows"] == 28
    assert "bye" in ex.reference.content_means  # held-out action keeps a neutral mean
    cfg.stage2_steps = 5  # a longer run picks up at step 3 of stage 2
    again, history = train_explainer(table, cfg, tmp_path / "run", llm=str(llm_dir),
                                     progress=False)
    assert len(history["losses"]["stage2"]) == 5 and len(history["losses"]["stage1"]) == 2
    lora = [p for n, p in again.llm.named_parameters() if "lora_B" in n]
    assert any(float(p.detach().abs().sum()) > 0 for p in lora)  # stage 2 trained the adapter
    ex.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "adapter_model.safetensors").is_file()


def test_explain_windows_labels_and_explains(llm_dir):
    from types import SimpleNamespace

    from emotion_node.runtime.explain_windows import explain_windows
    from emotion_node.skeleton.preprocess import PreprocessConfig

    ex = _explainer(llm_dir, reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7})
    rng = np.random.default_rng(0)
    probs = np.eye(len(EMOTION_STYLES), dtype=np.float32)[[2, 5, 0]]  # sad, not-confident, normal

    class Backend:
        labels = EMOTION_STYLES

        def infer(self, x, mask):
            assert x.shape == (3, 30, 21, 3) and mask.dtype == bool
            return SimpleNamespace(probs=probs, temporal_tokens=_tokens(3)[0],
                                   spatial_tokens=_tokens(3)[1], semantic_tokens=_tokens(3)[2])

    windows = rng.standard_normal((3, 30, 21, 3)).astype(np.float32) * 0.3
    rows = explain_windows(windows, np.ones((3, 30, 21), bool), Backend(), ex,
                           PreprocessConfig(), batch_size=2)
    assert [r["label"] for r in rows] == ["sad", "not-confident", "normal"]
    assert [r["hri_label"] for r in rows] == ["sad", "not_confident", "neutral"]
    assert all(r["confidence"] == 1.0 and isinstance(r["explanation"], str) for r in rows)
    with pytest.raises(ValueError, match="windows"):
        explain_windows(windows[0], np.ones((30, 21), bool), Backend(), ex, PreprocessConfig())


def test_explain_command_rejects_non_bvh(tmp_path, capsys):
    import argparse

    from emotion_node.commands import explain

    parser = argparse.ArgumentParser()
    explain.add_arguments(parser)
    args = parser.parse_args([str(tmp_path / "people.mcap")])
    assert explain.main(args) == 2
    assert "people.mcap" in capsys.readouterr().err


def test_worker_with_a_real_explainer(llm_dir):
    import time

    from emotion_node.runtime.explain_worker import ExplainWorker

    ex = _explainer(llm_dir)
    worker = ExplainWorker(ex, timeout_s=30.0)
    try:
        worker.submit("7", *(t[0] for t in _tokens(1)), label="happy", stamp=12.5)
        end = time.monotonic() + 30
        while worker.stats()["completed"] == 0 and time.monotonic() < end:
            time.sleep(0.02)
        (result,) = worker.poll_results()
        assert result.person_id == "7" and result.stamp == 12.5 and result.label == "happy"
        assert result.text == ex.explain([t[0] for t in _tokens(1)], label="happy")
    finally:
        worker.close()


@pytest.mark.parametrize("made_up", [0.0, 1.0])
def test_stage_two_claims_follow_the_hint(made_up):
    from emotion_node.model.explanations import (
        HINT_WORDS, CueReference, parse_explanation, salient_cues)
    from emotion_node.training.train_explainer import ExplainerTrainConfig, stage_examples

    table = _table(n=64)
    table.cues *= 3.0  # plenty of salient cues
    ref = CueReference(global_mean=[0.0] * 7, scale=[1.0] * 7)
    cfg = ExplainerTrainConfig(task_mix=(0.5, 0.5, 0.0), made_up_hints=made_up,
                               other_labels=1.0)
    rows = np.where(np.isin(table.styles, EMOTION_STYLES))[0]  # stage 2 sees emotions only
    prompts, answers = stage_examples(table, ref, 2, rows, np.random.default_rng(0), cfg)
    words = {v: k for k, v in HINT_WORDS.items()}
    differs = 0
    for row, prompt, answer in zip(rows, prompts, answers):
        hinted = [] if prompt.hint == "none" else [words[w] for w in prompt.hint.split(", ")]
        parsed = parse_explanation(answer)
        assert parsed.claims == hinted and parsed.no_cue == (not hinted)
        if prompt.task == "explain":
            assert parsed.label == prompt.label  # echoes the asked label, right or wrong
        else:
            assert parsed.label == table.styles[row]
        differs += hinted != salient_cues(ref.zscores(table.cues[row]))
    assert (differs > len(rows) // 3) if made_up else (differs == 0)


def test_bench_measure_row(llm_dir):
    from emotion_node.bench.llm import measure

    ex = _explainer(llm_dir, reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7})
    inputs = [(tuple(t[0] for t in _tokens(1, seed=s)), "sad", np.zeros(7), "walk")
              for s in range(3)]
    row = measure(ex, inputs, "cpu", max_new_tokens=5)
    assert row["device"] == "cpu" and row["runs"] == 3
    assert 1 <= row["mean_new_tokens"] <= 5
    assert row["tokens_per_s"] > 0 and 0 < row["s_per_explanation"] < 10


def test_evaluation_report_on_a_tiny_table(llm_dir):
    from emotion_node.evaluation.evaluate_llm import _report

    ex = _explainer(llm_dir, reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7},
                    max_new_tokens=6)
    table = _table(n=14)
    table = table.subset(np.isin(table.styles, EMOTION_STYLES))
    report = _report(ex, table, EMOTION_STYLES, batch_size=4, examples=3, progress=False)
    assert report["windows"] == len(table) and len(report["examples"]) == 3
    assert set(report["modes"]) == {"explain_label", "recognise", "tokens_only", "template"}
    template = report["modes"]["template"]
    assert template["faithfulness"] == 1.0 and template["degenerate_rate"] == 0.0
    head = EMOTION_STYLES[int(table.probs[0].argmax())]
    assert template["window_accuracy"] == report["head_window_accuracy"]
    assert report["examples"][0]["label"] == head
    # A 6-token random model cannot finish a sentence: every answer is degenerate.
    assert report["modes"]["explain_label"]["degenerate_rate"] == 1.0
    for key in ("llm_window_accuracy", "llm_clip_accuracy", "agreement"):
        assert 0.0 <= report[key] <= 1.0


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
        (explainer / "explainer.json").write_text(json.dumps({"training": {"tokenizer": recorded}}))
        problem = explainer_mismatch(explainer, tokenizer)
        assert (problem == "") == matches, problem
    assert "0123456789abcdef" in problem and tokenizer_fingerprint(tokenizer) in problem
    # An ONNX-only deployment has no weights to hash: the pair is accepted unchecked.
    (tokenizer / "model.safetensors").unlink()
    assert explainer_mismatch(explainer, tokenizer) == ""


def test_evaluate_command_adds_the_llm_scores(llm_dir, tmp_path, monkeypatch, capsys):
    """`emotion-node evaluate --llm` on a folder of real clips (tiny tokenizer and LLM)."""
    import argparse

    from emotion_node.commands import evaluate as command
    from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer
    from emotion_node.model.model_files import tokenizer_fingerprint
    from emotion_node.skeleton.dataset import default_data_root

    monkeypatch.setenv("EMOTION_NODE_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    data.mkdir()
    for style in ("happy", "sad", "active"):  # active: not an emotion style, skipped
        name = f"dataset-1_bow_{style}_001.bvh"
        (data / name).symlink_to(default_data_root() / "data" / name)
    torch.manual_seed(0)
    config = TokenizerConfig(token_dim=D, channels=32, stem_channels=16)
    model_dir = save_tokenizer(SkeletonTokenizer(config).eval(), config, tmp_path / "model")
    explainer = _explainer(llm_dir, reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7},
                           max_new_tokens=4)
    explainer.config.training["tokenizer"] = tokenizer_fingerprint(model_dir)
    explainer.save(model_dir / "explainer")

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    out = tmp_path / "eval.json"
    args = parser.parse_args(["--data", str(data), "--model", str(model_dir), "--llm",
                              "--llm-max-windows", "5", "--threads", "1", "--json", str(out)])
    assert command.main(args) == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["num_clips"] == 2 and result["skipped"] == 1
    for key in ("llm_clip_accuracy", "llm_window_accuracy", "agreement"):
        assert 0.0 <= result[key] <= 1.0, key
    # Four random tokens make no movement claim: faithfulness has nothing to judge.
    claims = result["llm"]["modes"]["explain_label"]["claims"]
    assert (result["faithfulness"] is None) == (claims == 0)
    assert result["llm"]["windows"] == 5 and result["llm"]["contents"] == ["bow"]
    assert set(result["llm"]["modes"]) == {"explain_label", "recognise", "template"}
    assert "LLM on 5 windows" in capsys.readouterr().out

    # An explainer trained on another tokenizer is refused with a clear message.
    explainer.config.training["tokenizer"] = "0123456789abcdef"
    explainer.save(model_dir / "explainer")
    assert command.main(args) == 2
    assert "retrain the explainer" in capsys.readouterr().err
