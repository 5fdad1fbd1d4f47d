"""The window table over both datasets: labels per dataset, span cues, per-dataset neutral."""
import numpy as np


def test_window_table_covers_both_datasets(model_dir, two_dataset_roots, tmp_path, monkeypatch):
    import torch

    from emotion_node.skeleton.cues import span_cues_batch
    from emotion_node.skeleton.dataset import load_clip
    from emotion_node.skeleton.preprocess import PreprocessConfig, clip_windows
    from emotion_node.training.window_table import build_window_table, table_clips

    # A table of its own (the clips' cache stays the shared one: parsing BVH files is slow).
    monkeypatch.setattr("emotion_node.training.window_table.cache_root", lambda: tmp_path)
    torch.set_num_threads(1)  # small batches on shared cores: more threads only wait
    table = build_window_table(model_dir, two_dataset_roots, progress=False)
    assert set(table.datasets.tolist()) == {"dataset-1", "dataset-2"}
    d2 = table.datasets == "dataset-2"
    # Dataset 2's exhausted is tired, its youthful carries no emotion; Dataset 1's old neither.
    assert set(zip(table.styles[d2], table.emotions[d2])) == {
        ("normal", "normal"), ("exhausted", "tired"), ("youthful", "")}
    assert set(table.emotions[table.styles == "old"].tolist()) == {""}
    assert "dataset-2:walk" in set(table.action_keys()) and "dataset-1:bow" in \
        set(table.action_keys())
    # The cues of each window and of its halves, as span_cues_batch gives them.
    clip = table_clips(two_dataset_roots)[int(table.clip[0])]
    windows, masks, _ = clip_windows(*load_clip(clip), PreprocessConfig())
    spans = span_cues_batch(windows, masks, PreprocessConfig().fps)
    first = np.where(table.clip == table.clip[0])[0]
    assert np.allclose(table.span_cues(int(first[0])), spans[0], equal_nan=True)
    assert np.isnan(table.half_cues[:, :, 1]).all()  # arm swing is judged over the whole only
    again = build_window_table(model_dir, two_dataset_roots, progress=False)  # from the cache
    assert np.array_equal(again.emotions, table.emotions)
    only = build_window_table(model_dir, two_dataset_roots, progress=False, shared_only=False,
                              emotions_only=True)
    assert "" not in set(only.emotions.tolist())


def test_reference_keeps_each_datasets_neutral(tiny_llm):
    """Dataset 2's calmer neutral walk is its own reference, not Dataset 1's."""
    from emotion_node.training.train_explainer import fit_reference

    table = tiny_llm.table(n=48)
    table.datasets[24:] = "dataset-2"
    table.cues[24:] += 5.0  # another studio: everything shifted
    ref = fit_reference(table, np.ones(len(table), bool))
    assert {"dataset-1:walk", "dataset-2:walk"} <= set(ref.content_means)
    walk = np.where((table.contents == "walk") & (table.emotions == "normal"))[0]
    z = [ref.zscores(table.cues[r], f"{table.datasets[r]}:walk") for r in walk]
    assert max(float(np.nanmax(np.abs(v))) for v in z) < 5.0 / max(ref.scale)  # no 5.0 shift
