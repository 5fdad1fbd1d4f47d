"""The LLM evaluation report on a tiny table and a tiny explainer."""
import numpy as np

from emotion_node.model.labels import EMOTION_STYLES


def test_evaluation_report_on_a_tiny_table(tiny_llm):
    from emotion_node.evaluation.evaluate_llm import _report

    ex = tiny_llm.explainer(reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7},
                    max_new_tokens=6)
    table = tiny_llm.table(n=14)
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
