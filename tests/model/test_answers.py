"""One request end to end (tiny LLM): the explainer's reading, the prompt that names it, a
rejected sample replaced by the greedy answer (generated beside it) and a rejected greedy one by
the composer's."""
import numpy as np
import torch

from emotion_node.model import answers
from emotion_node.model.explanations import check_explanation
from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.wording import coherent_template

REFERENCE = {"global_mean": [0.0] * 7, "scale": [1.0] * 7}


def _word_probs_reference(ex, tokens, z):
    """Each label's whole answer word scored from scratch: one full forward pass (no cache) of
    the prompt, `Emotion:` and the word, its pieces' log-probabilities summed, then normalised
    over the labels."""
    prefix, words = answers.label_ids(ex)
    prompt = ex.make_prompt("recognise", None, z)
    model = ex.llm.get_base_model()
    scores = []
    for style in ex.config.labels:
        ids = words[style]
        embeds, mask, _ = ex.embed(tokens, [prompt], prefix=prefix + ids)
        with torch.no_grad():
            logits = model(inputs_embeds=embeds, attention_mask=mask).logits[0].float()
        steps = torch.log_softmax(logits[-len(ids) - 1:-1], dim=-1)  # predicts each piece
        scores.append(float(sum(steps[k, t] for k, t in enumerate(ids))))
    return torch.softmax(torch.tensor(scores), dim=0).numpy()


def test_the_reading_is_the_most_probable_whole_label_word(tiny_llm):
    ex = tiny_llm.explainer(reference=REFERENCE)
    with torch.no_grad():  # a non-trivial adapter, so the readings differ between windows
        for name, p in ex.llm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    tokens = tiny_llm.tokens(4, seed=2)
    zs = [None, np.full(7, 2.0), np.zeros(7), np.stack([np.full(7, -3.0)] * 3)]
    probs = answers.reading_probs(ex, tokens, zs)  # left-padded batch (hints of other lengths)
    assert probs.shape == (4, len(ex.config.labels))
    got = answers.read(ex, tokens, zs)
    assert all(g in EMOTION_STYLES for g in got)
    for i, z in enumerate(zs):
        want = _word_probs_reference(ex, [t[i:i + 1] for t in tokens], z)
        np.testing.assert_allclose(np.log(probs[i]), np.log(want), atol=1e-3)  # tails too
        assert got[i] == ex.config.labels[int(want.argmax())]
    assert np.abs(np.log(probs) - np.log(probs[0])).max() > 0.1  # the windows differ
    multi = [s for s, ids in answers.label_ids(ex)[1].items() if len(ids) > 1]
    assert multi  # words of several pieces are among those scored through the cache


def test_the_explain_prompt_names_a_differing_reading(tiny_llm, monkeypatch):
    ex = tiny_llm.explainer(reference=REFERENCE, max_new_tokens=4)
    labels = ex.config.labels
    picked = np.zeros((2, len(labels)))
    picked[0, labels.index("tired")], picked[1, labels.index("sad")] = 0.6, 0.9
    picked[:, labels.index("happy")] = 1 - picked.max(1)
    monkeypatch.setattr(answers, "reading_probs", lambda explainer, tokens, zs: picked)
    seen = []
    generate = ex.generate

    def recording(tokens, prompts, **kwargs):
        seen.extend(prompts)
        return generate(tokens, prompts, **kwargs)

    monkeypatch.setattr(ex, "generate", recording)
    z = np.zeros(7)
    out = answers.answer_batch(ex, tiny_llm.tokens(2), ["sad", "sad"], [z, z])
    assert [a.reading for a in out] == ["tired", "sad"]
    assert [a.reading_probs for a in out] == [tuple(row) for row in picked]
    assert seen[0].reading == "tired" and seen[1].reading is None  # named only when it differs
    assert "also reads as tired" in seen[0].user_text()


def test_rejected_answers_are_replaced_until_one_passes_the_checker(tiny_llm):
    ex = tiny_llm.explainer(reference=REFERENCE, max_new_tokens=6, temperature=1.0,
                            decoding="free")
    tokens = tiny_llm.tokens(2)
    z = np.stack([np.array([-2.0, -1.5, 2.5, 0.0, 1.8, 0.0, 0.0])] * 3)  # slow, still, head down
    sampled = answers.answer_batch(ex, tokens, ["sad", "happy"], [z, z], seed=0)
    greedy = answers.answer_batch(ex, tokens, ["sad", "happy"], [z, z], temperature=0.0)
    # Six tokens of a random model never make a valid answer: the sample, then the greedy
    # answer are rejected and the composer's answer is published, the LLM's kept beside it.
    assert [a.source for a in sampled + greedy] == ["composed"] * 4
    assert not any(a.first_passed for a in sampled + greedy)
    assert [a.llm_text for a in sampled] == [a.llm_text for a in greedy]  # the greedy retry
    for a in sampled + greedy:
        assert a.llm_text != a.text
        assert answers.passes(check_explanation(a.text, a.label, z, a.reading)), a
    again = answers.answer_batch(ex, tokens, ["sad", "happy"], [z, z], seed=0)
    assert [a.text for a in again] == [a.text for a in sampled]  # seeded
    assert [a.new_tokens for a in again] == [a.new_tokens for a in sampled]
    # Recognition without a label stays the LLM's own answer.
    alone = answers.answer_batch(ex, tokens, [None, None], [z, z], seed=0)
    assert [a.source for a in alone] == ["greedy"] * 2


def test_an_answer_the_checker_accepts_is_kept(tiny_llm, monkeypatch):
    ex = tiny_llm.explainer(reference=REFERENCE, temperature=1.0, decoding="free")
    z = np.stack([np.array([-2.0, -1.5, 2.5, 0.0, 1.8, 0.0, 0.0])] * 3)
    monkeypatch.setattr(answers, "read", lambda explainer, tokens, zs: ["sad"] * len(zs))
    good = coherent_template("sad", z)
    calls = []

    def generate(tokens, prompts, **kwargs):
        calls.append(len(prompts))
        return [good] * len(prompts), [20] * len(prompts)

    monkeypatch.setattr(ex, "generate", generate)
    out = answers.answer_batch(ex, tiny_llm.tokens(1), ["sad"], [z], seed=3)[0]
    assert (out.text, out.source, out.first_passed, out.llm_text) == (good, "sampled", True, None)
    assert calls == [2]  # one generation: the sample and its greedy fallback side by side
    ex.config.decoding = "grammar"  # its answers pass by construction: no greedy twin
    out = answers.answer_batch(ex, tiny_llm.tokens(1), ["sad"], [z], seed=3)[0]
    assert (out.text, out.source) == (good, "sampled") and calls == [2, 1]


def test_the_greedy_fallback_rows_decode_greedily_inside_a_sampled_batch(tiny_llm):
    ex = tiny_llm.explainer(reference=REFERENCE, max_new_tokens=8, temperature=5.0)
    tokens = tiny_llm.tokens(2, seed=1)
    prompts = [ex.make_prompt("recognise", None, np.zeros(7))] * 2
    greedy, _ = ex.generate(tokens, prompts, temperature=0.0)
    from transformers import LogitsProcessorList
    torch.manual_seed(0)
    doubled = [np.concatenate([t, t]) for t in tokens]
    mixed, _ = ex.generate(doubled, prompts * 2, temperature=5.0, logits_processor=
                           LogitsProcessorList([answers.GreedyRows([2, 3])]))
    assert mixed[2:] == greedy  # the greedy rows, whatever the sampling around them
    assert mixed[:2] != greedy  # at temperature 5 the sampled rows wander off


def test_a_cue_that_fits_the_label_given_as_contrary_does_not_pass():
    """Every claim holds and nothing clashes, but the lowered head of a sad person is named as
    running against sadness: the checker in the loop rejects it."""
    from emotion_node.skeleton.cues import CUE_NAMES

    z = np.zeros(7)
    z[CUE_NAMES.index("head_pitch")] = 2.5  # head lowered
    general = " Sadness usually shows as a lowered head and a slow rhythm."
    odd = check_explanation("Emotion: sad. The head is lowered in this window, which runs "
                            "against sadness." + general, "sad", z)
    plain = check_explanation("Emotion: sad. The head is lowered in this window." + general,
                              "sad", z)
    assert odd.held == odd.claims == 1 and not odd.clashes and odd.contrary_supporting == 1
    assert not answers.passes(odd)
    assert answers.passes(plain)


def test_under_the_grammar_even_a_random_model_writes_answers_the_checker_accepts(tiny_llm):
    """The grammar is the whole guarantee: an untrained LLM, sampled at temperature 1.5 and
    greedy, writes answers whose every claim holds, whatever the label, the window and the
    reading; none needs the composer."""
    from emotion_node.skeleton.cues import CUE_NAMES

    ex = tiny_llm.explainer(reference=REFERENCE, temperature=1.5)
    rng = np.random.default_rng(4)
    zs = [rng.normal(0, 1.5, (3, len(CUE_NAMES))) for _ in range(6)]
    zs[0][1:, [1, 5, 6]] = np.nan  # halves without the span-dependent cues
    labels = ["sad", "happy", "normal", "angry", "tired", "not-confident"]
    for temperature in (None, 0.0):
        out = answers.answer_batch(ex, tiny_llm.tokens(6, seed=3), labels, zs, seed=1,
                                   temperature=temperature)
        for a, z in zip(out, zs):
            check = check_explanation(a.text, a.label, z, a.reading)
            assert answers.passes(check), (a.text, check)
            assert a.source in ("sampled", "greedy") and a.llm_text is None, a
            assert a.first_passed and check.stated_label == a.label
    # Free decoding of the same model and windows: the checker rejects what it writes.
    ex.config.decoding = "free"
    free = answers.answer_batch(ex, tiny_llm.tokens(6, seed=3), labels, zs, seed=1)
    assert sum(a.source == "composed" for a in free) >= 5


def test_rows_without_a_grammar_decode_freely_beside_constrained_ones(tiny_llm):
    """Recognition rows (no label) and rows without measured cues keep free decoding in the
    same batch as explanations under their grammar."""
    ex = tiny_llm.explainer(reference=REFERENCE, temperature=0.0, max_new_tokens=8)
    z = np.zeros(7)
    out = answers.answer_batch(ex, tiny_llm.tokens(3), ["sad", None, "happy"], [z, z, None])
    assert answers.passes(check_explanation(out[0].text, "sad", z, out[0].reading))
    assert out[0].source == "greedy"
    ex.config.decoding = "free"
    alone = answers.answer_batch(ex, tiny_llm.tokens(3), ["sad", None, "happy"], [z, z, None])
    assert [a.text for a in alone[1:]] == [a.text for a in out[1:]]
