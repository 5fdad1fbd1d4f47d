"""The LLM benchmark's row, on a tiny explainer."""
import numpy as np


def test_bench_measure_row(tiny_llm):
    from emotion_node.bench.llm import measure

    ex = tiny_llm.explainer(reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7})
    inputs = [(tuple(t[0] for t in tiny_llm.tokens(1, seed=s)), "sad", np.zeros(7), "walk")
              for s in range(3)]
    row = measure(ex, inputs, "cpu", max_new_tokens=5)
    assert row["device"] == "cpu" and row["runs"] == 3
    assert 1 <= row["mean_new_tokens"] <= 5
    assert row["tokens_per_s"] > 0 and 0 < row["s_per_explanation"] < 10
