"""The node's core without DDS: batched inference per tick, statuses, and the LLM link."""
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.ros.explain_link import ExplainLink
from emotion_node.ros.params import NodeParams
from emotion_node.ros.people import LOST, OK, WARMING_UP
from emotion_node.ros.pipeline import EmotionPipeline, PipelineSettings, load_model
from emotion_node.ros.smoothing import SmoothingConfig
from emotion_node.skeleton.preprocess import PreprocessConfig

CFG = PreprocessConfig()


class FakeBackend:
    """Says the style whose index is stored in the person's x coordinate; counts batches."""

    labels = EMOTION_STYLES
    window_frames = CFG.window_frames

    def __init__(self) -> None:
        self.batches = []
        self.order = []  # per batch row: index of the style it says

    def infer(self, x, mask):
        self.batches.append(x.shape[0])
        b = x.shape[0]
        probs = np.full((b, len(self.labels)), 0.02, np.float32)
        for i in range(b):
            probs[i, self.order[i]] = 1.0 - 0.02 * (len(self.labels) - 1)
        return SimpleNamespace(probs=probs, temporal_tokens=np.zeros((b, 8, 64), np.float32),
                               spatial_tokens=np.zeros((b, 6, 64), np.float32),
                               semantic_tokens=np.zeros((b, 4, 64), np.float32))


def body(t: float) -> tuple:
    pos = np.zeros((21, 3), np.float32)
    pos[:, 2] = np.linspace(0.0, 1.7, 21)
    pos[:, 0] = 0.3 * np.sin(np.arange(21) + 4 * t)
    return pos, np.ones(21, bool)


def frames(ids, t):
    return [SimpleNamespace(body_id=b, stamp=t, positions=body(t)[0], mask=body(t)[1],
                            frame_id='cam') for b in ids]


def make(smoothing=False, min_frames=15, rate_hz=15.0, every_input=False):
    backend = FakeBackend()
    settings = PipelineSettings(min_frames, 1.0, SmoothingConfig(enabled=smoothing),
                                rate_hz=rate_hz, every_input=every_input)
    return backend, EmotionPipeline(backend, CFG, 8, 4.0, settings)


def feed(pipeline, stamps, ids=('a',)):
    """Add a frame per stamp (for every id) and step; per step ([(status, window end)] of the
    results then, whether it inferred)."""
    out = []
    for t in stamps:
        pipeline.add(frames(list(ids), t), now=t)
        results = pipeline.step(now=t)
        out.append(([(r.status, r.window_end) for r in results], pipeline.inferred))
    return out


def whole_ns(t):
    """Stamps as a tracker sends them: whole nanoseconds."""
    return round(t * 1e9) / 1e9


def test_everyone_is_inferred_in_one_batch_after_warm_up():
    backend, pipeline = make()
    backend.order = [3, 1, 2]
    statuses = []
    for i in range(90):  # 3 s at 30 Hz
        t = 100.0 + i / 30
        pipeline.add(frames(['a', 'b', 'c'], t), now=t)
        statuses.append([r.status for r in pipeline.step(now=t)])
    assert statuses[0] == [WARMING_UP] * 3
    first_ok = next(i for i, s in enumerate(statuses) if s == [OK] * 3)
    assert 25 <= first_ok <= 32  # 15 model frames at 15 fps = 1 s of 30 Hz input
    assert set(backend.batches) == {3}  # one batch per tick with every person
    results = {r.body_id: r for r in pipeline.step(now=t)}
    assert [results[b].style for b in 'abc'] == [EMOTION_STYLES[i] for i in (3, 1, 2)]
    assert results['a'].label == 'angry' and results['a'].window_frames == 30
    assert pipeline.newest_stamp == pytest.approx(t)
    assert set(pipeline.tokens) == {'a', 'b', 'c'}


def test_no_new_frames_means_no_inference_and_lost_then_removed():
    backend, pipeline = make()
    backend.order = [0]
    for i in range(40):
        t = i / 30
        pipeline.add(frames(['a'], t), now=t)
        pipeline.step(now=t)
    n = len(backend.batches)
    assert [r.status for r in pipeline.step(now=t + 0.5)] == [OK]
    assert len(backend.batches) == n  # nothing new: the last result is kept, not recomputed
    assert not pipeline.changed  # nothing to publish for a node that publishes on change
    assert [r.status for r in pipeline.step(now=t + 1.2)] == [LOST]
    assert pipeline.changed and not pipeline.inferred  # the lost report goes out
    assert pipeline.step(now=t + 1.3) == [] and 'a' not in pipeline.tokens
    assert pipeline.changed  # and so does the removal


def test_inference_has_a_rate_of_its_own_in_skeleton_time():
    backend, pipeline = make()
    backend.order = [1, 2]
    steps = feed(pipeline, [whole_ns(100.0 + i / 30) for i in range(90)], ids='ab')
    inferred = [i for i, (_, did) in enumerate(steps) if did]
    assert inferred == list(range(0, 90, 2))  # 30 Hz input, 15 Hz labels: every other one
    labelled = [i for i in inferred if steps[i][0][0][0] == OK]
    assert len(backend.batches) == len(labelled) > 25  # no model call in between
    for i in range(1, 90, 2):  # in between: the windows of the inference before
        assert steps[i][0] == steps[i - 1][0]
        assert [end for _, end in steps[i][0]] == [whole_ns(100.0 + (i - 1) / 30)] * 2
    assert pipeline.newest_stamp == whole_ns(100.0 + 89 / 30)  # the state's stamp


def test_inference_on_every_input_and_at_a_slower_input():
    backend, pipeline = make(every_input=True)
    backend.order = [0]
    assert all(did for _, did in feed(pipeline, [100.0 + i / 30 for i in range(30)]))
    backend, pipeline = make(rate_hz=15.0)  # 10 Hz input: slower than the rate, every frame
    backend.order = [0]
    assert all(did for _, did in feed(pipeline, [100.0 + i / 10 for i in range(30)]))
    backend, pipeline = make(rate_hz=5.0)  # jittered 30 Hz stamps, 5 Hz labels: 30 in 6 s
    backend.order = [0]
    rng = np.random.default_rng(0)
    stamps = 100.0 + np.arange(180) / 30 + rng.uniform(-0.004, 0.004, 180)
    assert sum(did for _, did in feed(pipeline, stamps)) == 30


def test_stamps_going_back_restart_the_inference_schedule():
    backend, pipeline = make()
    backend.order = [0]
    feed(pipeline, [100.0 + i / 30 for i in range(30)])
    restarted = feed(pipeline, [50.0 + i / 30 for i in range(6)])  # a bag loop
    assert any(did for _, did in restarted)
    assert restarted[-1][0][0][1] < 60.0  # labels follow the new recording


def test_min_frames_above_the_model_window_is_refused():
    _, pipeline = make()
    with pytest.raises(ValueError, match='window.min_frames = 31'):
        pipeline.apply(PipelineSettings(31, 1.0, SmoothingConfig()))


UPPER_ARMS_AND_HEAD = ('neck', 'head', 'clavicle_l', 'shoulder_l', 'elbow_l', 'wrist_l',
                       'clavicle_r', 'shoulder_r', 'elbow_r', 'wrist_r')  # 10 of 21: too little


def partial(ids, t, joints):
    """frames() with only the named canonical joints observed."""
    from emotion_node.skeleton.layouts import CANONICAL_INDEX
    out = frames(ids, t)
    for frame in out:
        frame.mask = np.zeros(21, bool)
        frame.mask[[CANONICAL_INDEX[j] for j in joints]] = True
        frame.positions = np.where(frame.mask[:, None], frame.positions, 0.0)
    return out


def test_too_little_of_the_body_seen_means_warming_up_not_a_label():
    backend, pipeline = make()
    backend.order = [1, 1]
    seen = []
    for i in range(180):  # 6 s at 30 Hz; person b is partly seen from 2 s to 4.5 s
        t = i / 30
        b = partial(['b'], t, UPPER_ARMS_AND_HEAD) if 2.0 <= t < 4.5 else frames(['b'], t)
        pipeline.add(frames(['a'], t) + b, now=t)
        result = {r.body_id: r for r in pipeline.step(now=t)}['b']
        if result.status == OK and not result.explanation:
            assert pipeline.set_explanation('b', 'Emotion: happy. ...', t, 'happy')
        seen.append((t, result.status, result.label, result.valid_joint_fraction,
                     result.explanation))
    during = [s for s in seen if 4.0 <= s[0] < 4.5]  # the 2 s window holds only the partial body
    assert all(status == WARMING_UP and label == '' for _, status, label, *_ in during)
    # No label, no reason: the explanation of the label before is not shown meanwhile.
    assert all(text == '' for *_, text in during)
    assert seen[int(1.9 * 30)][4].startswith('Emotion: happy')
    assert all(s[3] == pytest.approx(10 / 21) for s in during)
    assert seen[int(1.9 * 30)][1:3] == (OK, 'happy')  # labelled before ...
    assert seen[-1][1:3] == (OK, 'happy')  # ... and again once seen whole
    assert set(backend.batches) == {1, 2}  # b left out of the batch, not inferred and hidden


def test_joint_fraction_counts_observed_frames_only_and_its_threshold_applies():
    backend, pipeline = make()
    backend.order = [1]
    for i in range(20):  # 20 of the 30 model frames filled (about 0.67 s): no dilution
        t = i / 15
        pipeline.add(partial(['a'], t, UPPER_ARMS_AND_HEAD), now=t)
        (result,) = pipeline.step(now=t)
    assert result.valid_joint_fraction == pytest.approx(10 / 21)
    assert result.status == WARMING_UP
    pipeline.apply(PipelineSettings(15, 1.0, SmoothingConfig(enabled=False),
                                     min_joint_fraction=0.4))
    pipeline.add(partial(['a'], 20 / 15, UPPER_ARMS_AND_HEAD), now=20 / 15)
    assert pipeline.step(now=20 / 15)[0].status == OK
    with pytest.raises(ValueError, match='window.min_joint_fraction = 1.5'):
        pipeline.apply(PipelineSettings(15, 1.0, SmoothingConfig(), min_joint_fraction=1.5))


class FakeExplainer:
    """Explains instantly, or fails when told to."""

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.calls = fail, []

    def explain(self, tokens, label, cues, deadline, cancel):
        self.calls.append((label, np.shape(cues)))
        if self.fail:
            raise RuntimeError('the LLM broke')
        return SimpleNamespace(text=f'because {label}', reading='tired')


def run_link(explainer, order_at):
    """Drive a pipeline + link for 4 s; the fake model's answer changes per `order_at(t)`."""
    backend, pipeline = make()
    model = SimpleNamespace(directory=Path('/nonexistent'), preprocess=CFG)
    link = ExplainLink(NodeParams(llm_enabled=True, llm_period_s=100.0), model, None,
                       factory=lambda: explainer)
    seen = []
    try:
        deadline = time.monotonic() + 30.0
        while link.diagnostics()['llm.state'] != 'ready' and time.monotonic() < deadline:
            time.sleep(0.05)  # the worker thread sets up torch first
        for i in range(120):
            t = i / 30
            backend.order = [order_at(t)]
            pipeline.add(frames(['a'], t), now=t)
            results = pipeline.step(now=t)
            link.update(pipeline, results, t)
            seen += [(r.label, r.style, r.explanation, r.explainer_label) for r in results]
            time.sleep(0.005)
        time.sleep(0.2)
        link.update(pipeline, pipeline.step(now=t), t)
        return seen, link.diagnostics(), pipeline
    finally:
        link.close()


def test_explanations_follow_the_published_label():
    explainer = FakeExplainer()
    seen, diag, pipeline = run_link(explainer, lambda t: 1 if t < 2.0 else 2)
    assert [c[0] for c in explainer.calls][:1] == ['happy']
    assert 'sad' in [c[0] for c in explainer.calls]  # asked again when the label changed
    assert all(c[1] == (3, 7) for c in explainer.calls)  # cues of the window and its halves
    for _, style, text, reading in seen:
        assert text in ('', f'because {style}')  # never an explanation of another label
        assert reading == ('tired' if text else '')  # the explainer's reading goes with it
    assert ('sad', 'sad', 'because sad', 'tired') in seen
    assert diag['llm.completed'] == str(len(explainer.calls)) and diag['llm.failed'] == '0'


def test_llm_failures_leave_the_labels_alone_and_are_counted():
    explainer = FakeExplainer(fail=True)
    seen, diag, _ = run_link(explainer, lambda t: 3)
    assert int(diag['llm.failed']) >= 1 and 'the LLM broke' in diag['llm.last_error']
    ok = [s for s in seen if s[0]]
    assert ok and all(label == 'angry' and text == reading == '' for label, _, text, reading in ok)


def test_link_refuses_an_explainer_trained_on_another_tokenizer(tmp_path):
    import json

    import torch

    from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer

    torch.manual_seed(0)
    config = TokenizerConfig()
    model_dir = save_tokenizer(SkeletonTokenizer(config), config, tmp_path / 'model')
    (model_dir / 'explainer').mkdir()
    (model_dir / 'explainer' / 'explainer.json').write_text(
        json.dumps({'training': {'tokenizer': '0123456789abcdef'}}))
    logged = []
    logger = SimpleNamespace(error=logged.append, warning=logged.append)
    link = ExplainLink(NodeParams(llm_enabled=True), SimpleNamespace(
        directory=model_dir, preprocess=CFG), logger)
    try:
        assert link.worker is None
        state = link.diagnostics()['llm.state']
        assert state.startswith('unavailable: ') and '0123456789abcdef' in state, state
        assert logged and 'retrain the explainer' in logged[0]
    finally:
        link.close()


def test_valence_and_arousal_come_from_the_smoothed_scores():
    from emotion_node.model.labels import valence_arousal

    backend, pipeline = make(smoothing=True)
    backend.order = [1]  # happy first, then sad: the smoothed scores hold both for a while
    for i in range(75):
        t = 100.0 + i / 30
        if i == 60:
            backend.order = [2]
        pipeline.add(frames(['a'], t), now=t)
        (result,) = pipeline.step(now=t)
    raw = np.full(len(EMOTION_STYLES), 0.02, np.float32)
    raw[2] = 1.0 - 0.02 * (len(EMOTION_STYLES) - 1)
    assert not np.allclose(result.scores, raw, atol=0.05)  # still between the two
    va = valence_arousal(result.scores, EMOTION_STYLES)
    assert (result.valence, result.arousal) == pytest.approx((float(va[0]), float(va[1])))
    assert not (result.valence, result.arousal) == pytest.approx(
        tuple(float(v) for v in valence_arousal(raw, EMOTION_STYLES)), abs=0.05)


def test_node_parameters_reach_the_tensorrt_engine(model_dir, recording_logger, monkeypatch):
    # model.fp16 and people.max_persons choose the engine that is built and cached.
    from emotion_node.runtime import backends
    from emotion_node.runtime.base import BackendUnavailable

    asked = []

    def record(self, model_dir, max_persons, fp16, cache_dir=None, logger=None):
        asked.append((max_persons, fp16))
        raise BackendUnavailable("tensorrt is not importable (test)")

    monkeypatch.setattr(backends.TensorRTBackend, "__init__", record)
    params = NodeParams(model_path=str(model_dir), model_backend="tensorrt",
                        model_device="cuda", model_fp16=True, people_max_persons=12)
    loaded = load_model(params, recording_logger)
    assert asked == [(12, True)]
    assert loaded.backend.name in ("onnxruntime", "torch")
    assert len(recording_logger.lines) == 1


def test_neutral_below_reaches_the_pipeline_and_labels_unsure_people_neutral():
    settings = PipelineSettings.from_params(NodeParams())  # the node's default
    assert settings.smoothing.neutral_below == 0.7
    backend, pipeline = make()
    pipeline.apply(PipelineSettings(15, 1.0, SmoothingConfig(enabled=False, neutral_below=0.7)))
    backend.order = [1]  # the fake gives its style 0.88: sure enough at 0.7 ...
    for i in range(20):
        pipeline.add(frames(['a'], i / 15), now=i / 15)
        (result,) = pipeline.step(now=i / 15)
    assert result.status == OK and result.style == EMOTION_STYLES[1]
    pipeline.apply(PipelineSettings(15, 1.0, SmoothingConfig(enabled=False, neutral_below=0.9)))
    pipeline.add(frames(['a'], 20 / 15), now=20 / 15)  # ... and not at 0.9: neutral
    (result,) = pipeline.step(now=20 / 15)
    assert result.style == 'normal' and result.label == 'neutral'


class BiasedBackend(FakeBackend):
    """Scores everyone alike: `bias` on one label's logit over a flat rest (a person whose
    usual movement the model reads as that label)."""

    def __init__(self, bias_label: int, bias: float) -> None:
        super().__init__()
        self.logit = np.zeros(len(self.labels), np.float32)
        self.logit[bias_label] = bias

    def infer(self, x, mask):
        b = x.shape[0]
        self.order = [0] * b
        out = super().infer(x, mask)
        out.logits = np.tile(self.logit, (b, 1))
        e = np.exp(out.logits - out.logits.max(axis=1, keepdims=True))
        out.probs = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return out


def baseline_pipeline(min_s=1.0, strength=1.0, keep_s=300.0, population=None, max_people=200):
    from emotion_node.model.person_baseline import BaselineConfig

    sad = EMOTION_STYLES.index('sad')
    backend = BiasedBackend(sad, 3.0)
    settings = PipelineSettings(15, 1.0, SmoothingConfig(enabled=False), baseline=True,
                                baseline_config=BaselineConfig(strength, min_s, 120.0, 10.0),
                                baseline_keep_s=keep_s)
    flat = np.full(len(EMOTION_STYLES), -np.log(len(EMOTION_STYLES)))
    return backend, EmotionPipeline(backend, CFG, 8, 4.0, settings,
                                    flat if population is None else population, max_people)


def test_a_person_is_read_against_their_own_baseline_once_it_is_old_enough():
    """A walker the model always reads as sad: absolute until min_s of them is seen, then their
    usual score is what 'normal for them' means and the relative reading is flat."""
    _, pipeline = baseline_pipeline(min_s=1.0, strength=1.0)
    seen = []
    for i in range(120):  # 4 s at 30 Hz
        t = i / 30
        pipeline.add(frames(['a'], t), now=t)
        for r in pipeline.step(now=t):
            if r.status == OK:
                seen.append((t, r.baseline_relative, r.style, float(r.scores.max())))
    assert seen and not seen[0][1] and seen[0][2] == 'sad'  # absolute at first
    relative = [s for s in seen if s[1]]
    assert relative, 'the baseline was never used'
    assert relative[0][0] - seen[0][0] >= 1.0 - 1e-6  # min_s after the first label
    # The person's whole offset removed: every label alike (the flat population).
    assert relative[-1][3] == pytest.approx(1 / len(EMOTION_STYLES), abs=1e-3)
    assert pipeline.baselines.ready_count(1.0) == 1


def test_baselines_off_leave_the_absolute_reading_and_keep_none():
    backend, pipeline = baseline_pipeline()
    pipeline.apply(PipelineSettings(15, 1.0, SmoothingConfig(enabled=False)))
    for i in range(120):
        pipeline.add(frames(['a'], i / 30), now=i / 30)
        results = pipeline.step(now=i / 30)
    assert results[0].style == 'sad' and not results[0].baseline_relative
    assert len(pipeline.baselines) == 0


def test_a_person_who_comes_back_keeps_their_baseline_until_keep_s_and_reset_forgets_it():
    _, pipeline = baseline_pipeline(min_s=0.5, keep_s=5.0)
    t = 0.0
    for i in range(60):
        t = i / 30
        pipeline.add(frames(['a'], t), now=t)
        pipeline.step(now=t)
    assert pipeline.baselines.ready_count(0.5) == 1
    pipeline.step(now=t + 3.0)  # lost (1 s timeout) and removed, baseline kept
    pipeline.step(now=t + 3.1)
    assert 'a' not in pipeline.people.tracks and len(pipeline.baselines) == 1
    back = t + 3.2
    for i in range(30):  # back within keep_s: read against the baseline from the first label
        pipeline.add(frames(['a'], back + i / 30), now=back + i / 30)
        results = pipeline.step(now=back + i / 30)
    assert results[0].status == OK and results[0].baseline_relative
    assert pipeline.reset_baselines('nobody') == 0
    assert pipeline.reset_baselines('a') == 1 and len(pipeline.baselines) == 0
    pipeline.step(now=back + 100.0)  # gone longer than keep_s: a stranger again
    assert len(pipeline.baselines) == 0


def test_baselines_are_bounded_and_forgotten_after_keep_s():
    _, pipeline = baseline_pipeline(min_s=0.0, keep_s=2.0, max_people=3)
    for k in range(6):  # six people one after another, each seen for 1 s
        for i in range(30):
            t = k * 1.0 + i / 30
            pipeline.add(frames([f'p{k}'], t), now=t)
            pipeline.step(now=t)
        assert len(pipeline.baselines) <= 3
    pipeline.step(now=100.0)
    assert len(pipeline.baselines) == 0


def test_baselines_need_the_models_population_mean():
    backend = BiasedBackend(0, 1.0)
    settings = PipelineSettings(15, 1.0, SmoothingConfig(enabled=False), baseline=True)
    with pytest.raises(ValueError, match='record-population'):
        EmotionPipeline(backend, CFG, 8, 4.0, settings)
