"""The LLM benchmark's row, on a tiny explainer."""
import numpy as np


def test_bench_measure_row(tiny_llm):
    from emotion_node.bench.llm import measure

    reference = {"global_mean": [0.0] * 7, "scale": [1.0] * 7}
    inputs = [(tiny_llm.tokens(1, seed=s), "sad", np.zeros((3, 7)), "dataset-1:walk")
              for s in range(3)]
    greedy = tiny_llm.explainer(reference=reference, temperature=0.0, decoding="free")
    row = measure(greedy, inputs, "cpu", max_new_tokens=5)
    # The untrained model's five tokens never pass the checker: the composer answers each run.
    assert row["device"] == "cpu" and row["runs"] == 3
    assert row["sources"] == {"sampled": 0, "greedy": 0, "composed": 3}
    assert 1 <= row["mean_new_tokens"] <= 5
    assert row["tokens_per_s"] > 0 and 0 < row["s_per_explanation"] < 10
    # Sampled: the greedy fallback is generated beside the sample, in the same steps.
    sampled = tiny_llm.explainer(reference=reference, temperature=1.0, decoding="free")
    row = measure(sampled, inputs, "cpu", max_new_tokens=5)
    assert row["sources"]["composed"] == 3 and 1 <= row["mean_new_tokens"] <= 5
    # Under the window's grammar, with room for the longest answer, the LLM's own answers pass.
    sampled.config.decoding = "grammar"
    row = measure(sampled, inputs, "cpu")
    assert row["sources"]["composed"] == 0 and row["runs"] == 3
