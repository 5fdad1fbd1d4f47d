"""Explainer: projector splice, loss, generation and save/load (tiny LLM)."""
import json

import pytest
import torch

from emotion_node.model.explainer import PLACEHOLDER, Explainer, Prompt, SkeletonProjector
from emotion_node.model.wording import Claim, compose_answer, description_text
from emotion_node.skeleton.cues import CUE_NAMES

D, TT, P, K = 16, 4, 6, 2  # the projector test's own sizes

def test_projector_shapes_and_scale():
    proj = SkeletonProjector(D, 32, 48, embed_rms=0.05)
    out = proj(*(torch.randn(3, n, D) for n in (TT, P, K)))
    assert out.shape == (3, TT + P + K, 48)
    assert torch.allclose(out.pow(2).mean(-1).sqrt(), torch.full((3, TT + P + K), 0.05),
                          atol=1e-3)


def test_splice_places_tokens_at_the_placeholder(tiny_llm):
    ex = tiny_llm.explainer()
    prompts = [Prompt("recognise", hint="speed high"), Prompt("explain", "sad")]
    tokens = tiny_llm.tokens(2)
    n_skeleton = tiny_llm.TT + tiny_llm.P + tiny_llm.K
    embeds, mask, labels = ex.embed(tokens, prompts)
    assert labels is None and embeds.shape[0] == 2 and embeds.shape[2] == 32
    skel = ex.projector(*(torch.from_numpy(t) for t in tokens))
    for i, prompt in enumerate(prompts):
        before, after = ex.prompt_ids(prompt)
        n = len(before) + n_skeleton + len(after)
        assert int(mask[i].sum()) == n and bool(mask[i, -n:].all())  # left-padded
        start = embeds.shape[1] - n + len(before)
        assert torch.allclose(embeds[i, start:start + n_skeleton], skel[i])
        words = ex.llm.get_input_embeddings()(torch.tensor(after))
        assert torch.allclose(embeds[i, -len(after):], words)
    assert PLACEHOLDER not in ex.tokenizer.decode(ex.prompt_ids(prompts[0])[1])


def test_answer_labels_and_loss_reach_projector_and_lora(tiny_llm):
    ex = tiny_llm.explainer()
    prompts = [Prompt("recognise", hint="none"), Prompt("describe")]
    answers = [compose_answer("sad", [Claim("speed", -1)], [], None), description_text("old", [])]
    embeds, mask, labels = ex.embed(tiny_llm.tokens(2), prompts, answers)
    for i, answer in enumerate(answers):
        ids = ex.tokenizer(answer, add_special_tokens=False)["input_ids"]
        got = labels[i][labels[i] != -100].tolist()
        assert got == ids + [ex.tokenizer.convert_tokens_to_ids("<|im_end|>")]
        assert bool(mask[i, 0])  # right-padded for training
    for name, p in ex.llm.named_parameters():
        p.requires_grad_("lora_" in name)
    loss = ex.loss(tiny_llm.tokens(2), prompts, answers)
    assert torch.isfinite(loss)
    loss.backward()
    assert ex.projector.mlp[0].weight.grad.abs().sum() > 0
    lora_a = [p for n, p in ex.llm.named_parameters() if "lora_A" in n]
    lora_b = [p for n, p in ex.llm.named_parameters() if "lora_B" in n]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in lora_b)
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in lora_a)  # B starts at 0


def _id_losses(ex, tokens, prompt, text):
    """Cross-entropy of each answer id of one prompt, from the full LLM's logits."""
    embeds, mask, labels = ex.embed(tokens, [prompt], [text])
    logits = ex.llm(inputs_embeds=embeds, attention_mask=mask).logits[0, :-1].float()
    target = labels[0, 1:]
    keep = target != -100
    return torch.nn.functional.cross_entropy(logits[keep], target[keep], reduction="none")


def test_the_label_weight_counts_only_the_label_of_recognise_answers(tiny_llm):
    from emotion_node.model import answers as answering

    ex = tiny_llm.explainer()
    tokens = tiny_llm.tokens(2)
    prompts = [Prompt("recognise", hint="none"), Prompt("explain", "sad", hint="none")]
    texts = [compose_answer("sad", [Claim("speed", -1)], [], None)] * 2
    prefix, words = answering.label_ids(ex)
    n_label = len(prefix) + len(words["sad"])  # "Emotion: sad."
    w = 10.0
    with torch.no_grad():
        rows = [_id_losses(ex, [t[i:i + 1] for t in tokens], prompts[i], texts[i])
                for i in range(2)]
        want = (rows[0].sum() + rows[1].sum() + (w - 1) * rows[0][:n_label].sum()) / (
            len(rows[0]) + len(rows[1]) + (w - 1) * n_label)
        plain = torch.cat(rows).mean()
        assert float(ex.loss(tokens, prompts, texts)) == pytest.approx(float(plain), rel=1e-4)
        got = float(ex.loss(tokens, prompts, texts, label_weight=w))
    assert got == pytest.approx(float(want), rel=1e-4)
    assert abs(got - float(plain)) > 1e-3  # the weight changed something


def test_batched_generation_matches_single(tiny_llm):
    ex = tiny_llm.explainer()
    tokens = tiny_llm.tokens(2, seed=1)
    prompts = [Prompt("recognise", hint="speed high, tempo low"), Prompt("explain", "tired")]
    both, counts = ex.generate(tokens, prompts, max_new_tokens=8)
    for i in range(2):
        alone, _ = ex.generate([t[i:i + 1] for t in tokens], prompts[i:i + 1], max_new_tokens=8)
        assert alone[0] == both[i]
    assert all(1 <= c <= 8 for c in counts)


def test_explain_stops_at_the_deadline(tiny_llm):
    import time

    ex = tiny_llm.explainer()
    single = [t[0] for t in tiny_llm.tokens(1)]
    with pytest.raises(TimeoutError):
        ex.explain(single, label="sad", deadline=time.monotonic() - 1.0)
    answer = ex.explain(single, label="neutral")  # hri label accepted
    assert answer.label == "normal" and answer.reading in ex.config.labels
    assert isinstance(answer.text, str)


def test_save_load_round_trip(tiny_llm, tmp_path):
    ex = tiny_llm.explainer(reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7})
    with torch.no_grad():  # make the adapter non-trivial so the round trip is tested
        for name, p in ex.llm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    ex.save(tmp_path / "ex")
    files = sorted(f.name for f in (tmp_path / "ex").iterdir())
    assert files == ["adapter_config.json", "adapter_model.safetensors", "explainer.json",
                     "projector.safetensors"]
    saved = json.loads((tmp_path / "ex" / "adapter_config.json").read_text())
    assert saved["base_model_name_or_path"] == str(tiny_llm.dir)
    back = Explainer.load(tmp_path / "ex")
    for key, value in ex.projector.state_dict().items():
        assert torch.equal(value, back.projector.state_dict()[key])
    tokens = tiny_llm.tokens(1, seed=3)
    cues = dict(zip(CUE_NAMES, [2.0, 0, 0, 0, 0, 0, -3.0]))
    prompt = back.make_prompt("recognise", None, back.zscores(cues))
    assert prompt.hint == "slow rhythm, faster"
    explain = back.make_prompt("explain", "happy", back.zscores(cues), reading="sad")
    assert (explain.hint, explain.against, explain.reading) == ("faster", "slow rhythm", "sad")
    assert "Fits: faster\nAgainst: slow rhythm\nThe emotion is happy. The movement also " \
           "reads as sad. Explain why." in explain.user_text()
    assert back.make_prompt("explain", "happy", None, reading="happy").reading is None
    assert back.generate(tokens, [prompt])[0] == ex.generate(tokens, [prompt])[0]
    fresh = tiny_llm.explainer()  # a different adapter must change the output
    assert fresh.generate(tokens, [prompt])[0] != back.generate(tokens, [prompt])[0]
    # Loaded for answering, the adapter is merged into the LLM (the same answers above): such an
    # explainer refuses to save; loaded unmerged, it saves the same adapter again.
    with pytest.raises(ValueError, match="merge=False"):
        back.save(tmp_path / "again")
    Explainer.load(tmp_path / "ex", merge=False).save(tmp_path / "again")
    assert (tmp_path / "again" / "adapter_model.safetensors").read_bytes() == \
        (tmp_path / "ex" / "adapter_model.safetensors").read_bytes()
