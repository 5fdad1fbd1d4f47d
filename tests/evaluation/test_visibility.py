"""The visibility study: held-out actions only, every requested joint count, both datasets."""
import json

import pytest
import torch

from emotion_node.evaluation.visibility import visibility_markdown, visibility_study
from emotion_node.training.train_tokenizer import TrainConfig

torch.set_num_threads(1)


def test_visibility_study_scores_held_out_clips_at_each_joint_count(two_dataset_roots):
    cfg = TrainConfig(pretrain_steps=2, finetune_steps=2, batch_size=8, pool_per_clip=4,
                      threads=1)
    with pytest.raises(ValueError, match="not in the data"):
        visibility_study(two_dataset_roots, cfg, held_out=["cartwheel"])
    result = visibility_study(two_dataset_roots, cfg, held_out=["bow", "wave-left-hand"],
                              visible=(21, 6), repeats=2)
    assert [r["visible_joints"] for r in result["rows"]] == [21, 6]
    full, few = result["rows"]
    assert set(full["windows"]) == {"dataset-1", "dataset-2"}
    # Several random subsets per clip below the whole body, one for the whole body.
    assert few["windows"]["dataset-1"] == 2 * full["windows"]["dataset-1"] > 0
    for row in result["rows"]:
        assert 0.0 <= row["window_accuracy_dataset-1"] <= 1.0
    json.dumps(result)
    table = visibility_markdown(result)
    assert "| 6 | 0.29 |" in table and "dataset-2 window acc." in table
