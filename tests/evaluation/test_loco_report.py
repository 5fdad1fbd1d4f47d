"""Study reports: two recipes compared on the clips both held out."""

from emotion_node.evaluation.loco_report import compare_studies


def test_compare_studies_pairs_the_clips_both_held_out():
    def study(outcomes):
        return {"variants": {"tokenizer": {"predictions": [
            {"file": f, "dataset": d, "label": "sad", "predicted": "sad" if ok else "happy"}
            for f, d, ok in outcomes]}}}

    a = study([("x", "dataset-1", True), ("y", "dataset-1", True), ("z", "dataset-1", False),
               ("w", "dataset-2", True)])
    b = study([("x", "dataset-1", False), ("y", "dataset-1", True), ("z", "dataset-1", False)])
    rows = compare_studies(a, b, names=("new", "old"))
    assert len(rows) == 3  # header, rule, dataset-1 only: dataset-2 has no shared clip
    assert rows[2] == "| dataset-1 | 3 | 66.7 | 33.3 | 1 | 0 | 1.000 |"
