"""The explainer's training: both stages, resuming, and the stage-2 targets (tiny LLM)."""
import numpy as np
import pytest

from emotion_node.model.labels import EMOTION_STYLES


def test_training_runs_both_stages_and_resumes(tiny_llm, tmp_path):
    from emotion_node.training.train_explainer import ExplainerTrainConfig, train_explainer

    table = tiny_llm.table()
    cfg = ExplainerTrainConfig(holdout=("bye",), stage1_steps=2, stage2_steps=3, batch_size=2,
                               threads=1, save_every=1, warmup_steps=1,
                               explainer={"projector_hidden": 32, "max_new_tokens": 8})
    ex, history = train_explainer(table, cfg, tmp_path / "run", llm=str(tiny_llm.dir),
                                  progress=False)
    assert [len(history["losses"][k]) for k in ("stage1", "stage2")] == [2, 3]
    assert history["holdout"] == ["bye"] and history["train_windows"] == 28
    assert "dataset-1:bye" in ex.reference.content_means  # held out, keeps a neutral mean
    cfg.stage2_steps = 5  # a longer run picks up at step 3 of stage 2
    again, history = train_explainer(table, cfg, tmp_path / "run", llm=str(tiny_llm.dir),
                                     progress=False)
    assert len(history["losses"]["stage2"]) == 5 and len(history["losses"]["stage1"]) == 2
    lora = [p for n, p in again.llm.named_parameters() if "lora_B" in n]
    assert any(float(p.detach().abs().sum()) > 0 for p in lora)  # stage 2 trained the adapter
    ex.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "adapter_model.safetensors").is_file()


def _hinted(hint):
    """Claims back from a prompt's hint words ('head lowered throughout, slower')."""
    from emotion_node.model.wording import HINT_WORDS, SPAN_HINTS, Claim

    words = {v: k for k, v in HINT_WORDS.items()}
    spans = {v: k for k, v in SPAN_HINTS.items() if v}
    out = []
    for item in ([] if hint in (None, "none") else hint.split(", ")):
        span = next((s for w, s in spans.items() if item.endswith(" " + w)), "window")
        cue = item[:-len(SPAN_HINTS[span]) - 1] if span != "window" else item
        out.append(Claim(*words[cue], span))
    return out


@pytest.mark.parametrize("made_up", [0.0, 1.0])
def test_stage_two_targets_follow_the_hint(tiny_llm, made_up):
    from emotion_node.model.explanations import CueReference, parse_explanation
    from emotion_node.model.wording import salient_claims
    from emotion_node.training.train_explainer import ExplainerTrainConfig, stage_examples

    table = tiny_llm.table(n=64)
    table.cues *= 3.0  # plenty of salient cues
    table.half_cues *= 3.0
    ref = CueReference(global_mean=[0.0] * 7, scale=[1.0] * 7)
    cfg = ExplainerTrainConfig(task_mix=(0.5, 0.5, 0.0), made_up_hints=made_up,
                               other_labels=1.0, second_readings=0.5)
    rows = np.where(np.isin(table.emotions, EMOTION_STYLES))[0]  # stage 2 sees emotions only
    prompts, answers = stage_examples(table, ref, 2, rows, np.random.default_rng(0), cfg)
    differs = readings = 0
    for row, prompt, answer in zip(rows, prompts, answers):
        parsed = parse_explanation(answer)
        stated = [c for c, k in zip(parsed.claims, parsed.contrary) if not k]
        contrary = [c for c, k in zip(parsed.claims, parsed.contrary) if k]
        if prompt.task == "explain":
            assert parsed.label == prompt.label  # echoes the asked label, right or wrong
            fits, against = _hinted(prompt.hint), _hinted(prompt.against)
            assert stated == ([] if prompt.label == "normal" else fits[:2]), (prompt, answer)
            assert contrary == against[:2 if prompt.label == "normal" else 1], (prompt, answer)
            assert parsed.alternative == prompt.reading  # the second reading, when named
            readings += prompt.reading is not None
            hinted = fits + against
        else:
            assert parsed.label == table.emotions[row]
            hinted = _hinted(prompt.hint)
            assert set(parsed.claims) <= set(hinted)
        real = salient_claims(ref.zscores(table.span_cues(row)))
        differs += not set(hinted) <= set(real)
    assert (differs > len(rows) // 3) if made_up else (differs == 0)
    assert 0 < readings < len(rows) // 2


def test_stage_draws_weigh_every_emotion_alike(tiny_llm):
    from emotion_node.training.train_explainer import draw_weights

    table = tiny_llm.table(n=64)
    table.emotions[:20] = "normal"  # many more neutral windows than any other
    rows = np.where(table.emotions != "")[0]
    weights = draw_weights(table, rows, 2)
    shares = {e: weights[table.emotions[rows] == e].sum() for e in set(table.emotions[rows])}
    assert all(abs(v - 1 / len(shares)) < 1e-9 for v in shares.values()), shares


def _short_run(**changes):
    from emotion_node.training.train_explainer import ExplainerTrainConfig

    settings = dict(holdout=("bye",), stage1_steps=1, stage2_steps=1, batch_size=2, threads=1,
                    save_every=1, warmup_steps=1,
                    explainer={"projector_hidden": 32, "max_new_tokens": 4})
    return ExplainerTrainConfig(**{**settings, **changes})


def test_a_resume_with_other_settings_is_refused_naming_them(tiny_llm, tmp_path):
    from emotion_node.training.train_explainer import train_explainer

    run, table, llm = tmp_path / "run", tiny_llm.table(), str(tiny_llm.dir)
    train_explainer(table, _short_run(), run, llm=llm, progress=False)
    saved = (run / "checkpoint.pt").read_bytes()
    changed = _short_run(lora_lr=5e-4, batch_size=3, explainer={"projector_hidden": 16,
                                                                "max_new_tokens": 4})
    with pytest.raises(ValueError) as refused:
        train_explainer(table, changed, run, llm=llm, progress=False)
    message = str(refused.value)
    for name in ("lora_lr: 0.001 there, 0.0005 now", "batch_size: 2 there, 3 now",
                 "explainer.projector_hidden: 32 there, 16 now", "--fresh"):
        assert name in message, message
    assert "seed" not in message and "holdout" not in message  # only what differs
    with pytest.raises(ValueError, match=r"\(windows: '42 windows, \w+' there, '42 windows, "
                                         r"\w+' now\)"):
        train_explainer(tiny_llm.table(seed=1), _short_run(), run, llm=llm, progress=False)
    assert (run / "checkpoint.pt").read_bytes() == saved  # nothing was mixed in
    # How far and how it runs may change: a longer run on more threads continues the same one.
    _, history = train_explainer(table, _short_run(stage2_steps=2, threads=2, save_every=5),
                                 run, llm=llm, progress=False)
    assert [len(history["losses"][k]) for k in ("stage1", "stage2")] == [1, 2]
    # Starting over is always possible.
    train_explainer(table, changed, run, llm=llm, resume=False, progress=False)


def test_a_checkpoint_without_settings_is_refused(tiny_llm, tmp_path):
    import torch

    from emotion_node.training.train_explainer import train_explainer

    run = tmp_path / "run"
    run.mkdir()
    torch.save({"stage": 1, "step": 1, "losses": {}}, run / "checkpoint.pt")
    with pytest.raises(ValueError, match="records no settings.*--fresh"):
        train_explainer(tiny_llm.table(), _short_run(), run, llm=str(tiny_llm.dir),
                        progress=False)
