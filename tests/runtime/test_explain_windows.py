"""Explaining windows offline, and the explanation worker, with a real (tiny) explainer."""
import numpy as np
import pytest

from emotion_node.model.labels import EMOTION_STYLES


def test_explain_windows_labels_and_explains(tiny_llm):
    from types import SimpleNamespace

    from emotion_node.runtime.explain_windows import explain_windows
    from emotion_node.skeleton.preprocess import PreprocessConfig

    ex = tiny_llm.explainer(reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7})
    rng = np.random.default_rng(0)
    probs = np.eye(len(EMOTION_STYLES), dtype=np.float32)[[2, 5, 0]]  # sad, not-confident, normal

    class Backend:
        labels = EMOTION_STYLES

        def infer(self, x, mask):
            assert x.shape == (3, 30, 21, 3) and mask.dtype == bool
            temporal, spatial, semantic = tiny_llm.tokens(3)
            return SimpleNamespace(probs=probs, temporal_tokens=temporal, spatial_tokens=spatial,
                                   semantic_tokens=semantic)

    windows = rng.standard_normal((3, 30, 21, 3)).astype(np.float32) * 0.3
    rows = explain_windows(windows, np.ones((3, 30, 21), bool), Backend(), ex,
                           PreprocessConfig(), batch_size=2)
    assert [r["label"] for r in rows] == ["sad", "not-confident", "normal"]
    assert [r["hri_label"] for r in rows] == ["sad", "not_confident", "neutral"]
    assert all(r["confidence"] == 1.0 and isinstance(r["explanation"], str) for r in rows)
    assert all(r["reading"] in EMOTION_STYLES for r in rows)  # the explainer's own reading
    with pytest.raises(ValueError, match="windows"):
        explain_windows(windows[0], np.ones((30, 21), bool), Backend(), ex, PreprocessConfig())


def test_worker_with_a_real_explainer(tiny_llm):
    import time

    from emotion_node.runtime.explain_worker import ExplainWorker

    ex = tiny_llm.explainer()
    worker = ExplainWorker(ex, timeout_s=30.0)
    try:
        worker.submit("7", *(t[0] for t in tiny_llm.tokens(1)), label="happy", stamp=12.5)
        end = time.monotonic() + 30
        while worker.stats()["completed"] == 0 and time.monotonic() < end:
            time.sleep(0.02)
        (result,) = worker.poll_results()
        assert result.person_id == "7" and result.stamp == 12.5 and result.label == "happy"
        answer = ex.explain([t[0] for t in tiny_llm.tokens(1)], label="happy")
        assert (result.text, result.reading) == (answer.text, answer.reading)
    finally:
        worker.close()
