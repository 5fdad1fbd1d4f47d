"""The LLM evaluation report on a tiny table and a tiny explainer."""
import numpy as np
import pytest

from emotion_node.model.labels import EMOTION_STYLES


def test_evaluation_report_on_a_tiny_table(tiny_llm):
    from emotion_node.evaluation.evaluate_llm import _report

    ex = tiny_llm.explainer(reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7},
                            max_new_tokens=6, decoding="free")
    table = tiny_llm.table(n=14)
    table = table.subset(np.isin(table.emotions, EMOTION_STYLES))
    report = _report(ex, table, EMOTION_STYLES, batch_size=4, examples=3, progress=False)
    assert report["windows"] == len(table) and len(report["examples"]) == 3
    assert set(report["modes"]) == {"explain_label", "recognise", "tokens_only", "template",
                                    "coherent_template", "composer"}
    for baseline in ("template", "coherent_template"):
        scores = report["modes"][baseline]
        assert scores["faithfulness"] == 1.0 and scores["degenerate_rate"] == 0.0
        assert scores["window_accuracy"] == report["head_window_accuracy"]
    assert report["modes"]["coherent_template"]["label_cue_clashes"] == 0
    head = EMOTION_STYLES[int(table.probs[0].argmax())]
    assert report["examples"][0]["label"] == head
    # A 6-token random model cannot finish a sentence: every answer of its own is degenerate,
    # and each explanation published is the composer's, which the checker accepts.
    node = report["modes"]["explain_label"]
    assert node["llm_alone"]["degenerate_rate"] == 1.0
    assert node["sources"] == {"sampled": 0, "greedy": 0, "composed": len(table)}
    assert report["composed_share"] == 1.0 and report["llm_written_share"] == 0.0
    assert report["decoding"] == "free"
    assert report["degenerate"] == 0 and report["label_cue_clashes"] == 0
    assert report["faithfulness"] == 1.0
    assert report["modes"]["recognise"]["degenerate_rate"] == 1.0  # recognition: its own
    for key in ("llm_window_accuracy", "llm_clip_accuracy", "agreement", "same_as_template",
                "distinct_2"):
        assert 0.0 <= report[key] <= 1.0
    assert isinstance(report["label_cue_clashes"], int)
    assert set(report["per_dataset"]) == {"dataset-1"}
    assert report["per_dataset"]["dataset-1"]["windows"] == len(table)
    readings = [e["reading"] for e in report["examples"]]
    assert all(r in EMOTION_STYLES for r in readings)  # the explainer's own reading


def test_under_the_grammar_the_llm_writes_every_published_answer(tiny_llm):
    """The same tiny model decoding under each window's grammar: every published answer is
    its own, every claim of its own holds; the label is read back from the texts."""
    from emotion_node.evaluation.evaluate_llm import _report

    ex = tiny_llm.explainer(reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7})
    table = tiny_llm.table(n=14)
    table = table.subset(np.isin(table.emotions, EMOTION_STYLES))
    report = _report(ex, table, EMOTION_STYLES, batch_size=4, examples=2, progress=False,
                     modes=("explain_label", "recognise"))
    node = report["modes"]["explain_label"]
    assert report["decoding"] == "grammar"
    assert report["llm_written_share"] == 1.0 and report["composed_share"] == 0.0
    assert report["llm_own_faithfulness"] == 1.0 == node["llm_alone"]["faithfulness"]
    assert node["llm_alone"]["label_cue_clashes"] == 0
    assert node["llm_alone"]["contrary_supporting"] == 0
    assert node["llm_alone"]["degenerate_rate"] == 0.0
    assert set(report["label_from_text"]) == {"published", "llm_own", "composer", "template",
                                              "coherent_template"}
    assert all(0.0 <= v <= 1.0 for v in report["label_from_text"].values())
    paired = report["label_from_text_paired"]  # the two shares differ by the discordant pairs
    shares = report["label_from_text"]
    assert (paired["llm_own_only"] - paired["composer_only"]) / report["windows"] == \
        pytest.approx(shares["llm_own"] - shares["composer"])
    assert 0.0 <= paired["p_exact_mcnemar"] <= 1.0
    draws = report["label_from_text_composer_draws"]  # the paired draw is the first of them
    assert draws["draws"] == 20
    assert draws["min"] <= shares["composer"] <= draws["max"]
    assert draws["min"] <= draws["mean"] <= draws["max"]
    assert report["modes"]["composer"]["faithfulness"] == 1.0


def test_distinct_bigrams():
    from emotion_node.evaluation.evaluate_llm import distinct_2

    assert distinct_2(["a b c", "a b c"]) == pytest.approx(0.5)  # 2 of 4 bigrams distinct
    assert distinct_2(["a b", "b a"]) == 1.0
    assert distinct_2([""]) == 0.0


def test_fold_pair_follows_the_recorded_recipes(tmp_path, monkeypatch):
    """The fold's tokenizer and explainer come from the recipes, and are kept when they match."""
    import json

    from emotion_node.evaluation import evaluate_llm as module
    from emotion_node.training import train_explainer

    recipe = tmp_path / "recipe"
    (recipe / "explainer").mkdir(parents=True)
    (recipe / "config.json").write_text("{}")
    settings = {"holdout": ["bye"], "stage2_steps": 7, "threads": 3}
    (recipe / "explainer" / "explainer.json").write_text(json.dumps(
        {"training": {"train_config": settings}}))
    calls = []

    def fake_fold(data, holdout, out, recipe_dir, threads, progress):
        calls.append(("tokenizer", tuple(holdout), threads))
        out.mkdir(parents=True)
        (out / "config.json").write_text(json.dumps({"training": {"holdout": list(holdout)}}))
        return out

    def fake_train(out, cfg, tokenizer_dir, data, run_dir, resume=True, progress=True):
        from dataclasses import asdict

        if resume and cfg.stage2_steps == 9:  # the checkpoint of the first recipe is there
            raise ValueError("checkpoint.pt was saved by a run with other settings (...): "
                             "resume with the same settings, or start over with --fresh")
        calls.append(("explainer", cfg.stage2_steps, cfg.threads))
        out.mkdir(parents=True, exist_ok=True)
        (out / "explainer.json").write_text(json.dumps({"training": {
            "train_config": asdict(cfg), "tokenizer": "fp"}}))
        return {}, ""

    monkeypatch.setattr(train_explainer, "train_fold_tokenizer", fake_fold)
    monkeypatch.setattr(train_explainer, "train_and_save", fake_train)
    monkeypatch.setattr("emotion_node.model.model_files.tokenizer_fingerprint", lambda d: "fp")
    fold = tmp_path / "fold"
    assert module.fold_pair(fold, None, recipe, threads=1, progress=False) == \
        (fold / "tokenizer", fold / "explainer")
    assert calls == [("tokenizer", ("bye",), 1), ("explainer", 7, 1)]
    module.fold_pair(fold, None, recipe, threads=2, progress=False)
    assert len(calls) == 2  # same recipes (threads aside): both kept
    settings["stage2_steps"] = 9
    (recipe / "explainer" / "explainer.json").write_text(json.dumps(
        {"training": {"train_config": settings}}))
    module.fold_pair(fold, None, recipe, threads=1, progress=False)
    assert calls[-1] == ("explainer", 9, 1)  # another explainer recipe: trained over again
    settings["holdout"] = ["bow"]
    (recipe / "explainer" / "explainer.json").write_text(json.dumps(
        {"training": {"train_config": settings}}))
    with pytest.raises(ValueError, match="holds out"):
        module.fold_pair(fold, None, recipe, threads=1, progress=False)


def test_a_recipe_recorded_before_the_label_weight_is_followed_at_weight_1(tmp_path):
    import json

    from emotion_node.evaluation.evaluate_llm import _explainer_recipe
    from emotion_node.training.train_explainer import ExplainerTrainConfig

    assert ExplainerTrainConfig().label_weight != 1.0  # the default moved on
    config = tmp_path / "explainer.json"
    for recorded, want in (({"seed": 3}, 1.0), ({"seed": 3, "label_weight": 10.0}, 10.0)):
        config.write_text(json.dumps({"training": {"train_config": recorded}}))
        assert ExplainerTrainConfig(**_explainer_recipe(tmp_path)).label_weight == want


def test_the_reading_and_the_head_are_scored_per_clip_by_one_rule():
    """A clip whose windows mostly lean the wrong way by a little and once the right way by a
    lot: its mean probability is right, its vote wrong, for the head and the reading alike."""
    from types import SimpleNamespace

    class Table(SimpleNamespace):
        def __len__(self):
            return len(self.emotions)

    from emotion_node.evaluation.evaluate_llm import _recognition

    labels = list(EMOTION_STYLES)
    probs = np.zeros((4, len(labels)))
    sad, happy = labels.index("sad"), labels.index("happy")
    probs[0, sad] = 1.0
    probs[1:3, happy], probs[1:3, sad] = 0.55, 0.45
    probs[3, happy] = 1.0  # a second clip, right by either rule
    table = Table(emotions=np.array(["sad"] * 3 + ["happy"]),
                  clip=np.array([0, 0, 0, 1]), datasets=np.array(["dataset-1"] * 4),
                  probs=probs)
    head = [labels[int(i)] for i in probs.argmax(1)]
    out = _recognition(table, labels, head, probs.copy(), labels)
    assert out["head_clip_accuracy"] == out["llm_clip_accuracy"] == 1.0
    assert out["head_clip_accuracy_vote"] == out["llm_clip_accuracy_vote"] == 0.5
    assert out["head_window_accuracy"] == out["llm_window_accuracy"] == 0.5
    assert out["agreement"] == 1.0
    # The reading's own probabilities are what count: flatten them and its clip turns wrong.
    flat = probs.copy()
    flat[0] = [0.0] * len(labels)
    flat[0, sad], flat[0, happy] = 0.51, 0.49  # still read as sad, by little
    out = _recognition(table, labels, head, flat, labels)
    assert out["llm_window_accuracy"] == 0.5 and out["llm_clip_accuracy"] == 0.5


def test_a_reading_only_report_scores_the_reading_against_the_head(tiny_llm):
    from emotion_node.evaluation.evaluate_llm import READING_ONLY, _report

    ex = tiny_llm.explainer(reference={"global_mean": [0.0] * 7, "scale": [1.0] * 7})
    table = tiny_llm.table(n=14)
    table = table.subset(np.isin(table.emotions, EMOTION_STYLES))
    report = _report(ex, table, EMOTION_STYLES, batch_size=4, examples=3, progress=False,
                     modes=READING_ONLY)
    assert report["modes"] == {} and "faithfulness" not in report  # nothing generated
    from emotion_node.model.answers import read
    keys = table.action_keys()
    zs = [ex.zscores(table.span_cues(r), str(keys[r])) for r in range(len(table))]
    readings = read(ex, table.tokens(np.arange(len(table))), zs)
    head = [EMOTION_STYLES[int(i)] for i in table.probs.argmax(-1)]
    assert report["agreement"] == float(np.mean([r == h for r, h in zip(readings, head)]))
    assert report["llm_window_accuracy"] == float(np.mean(
        [r == t for r, t in zip(readings, table.emotions)]))
    with pytest.raises(ValueError, match="alone"):
        _report(ex, table, EMOTION_STYLES, batch_size=4, examples=3, progress=False,
                modes=("reading", "recognise"))
