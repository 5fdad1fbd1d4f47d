"""Accuracy against how much of the body a tracker sees: where the node's visibility gate sits.

One tokenizer is trained with some actions held out; each held-out clip is then scored with only
`n` of the 21 canonical joints observed, the same random subset through the whole clip (a joint a
tracker loses at close range stays lost), for several `n`. The node labels a person only while
their observed joint fraction reaches `window.min_joint_fraction`; this table is what that
threshold is read from (EVALUATION.md).
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from emotion_node.evaluation.evaluate import window_logits
from emotion_node.skeleton.dataset import DataRoots, emotion_clips, index_clips
from emotion_node.skeleton.layouts import NUM_JOINTS
from emotion_node.skeleton.preprocess import preprocess_batch
from emotion_node.training.data import load_records, raw_eval_windows
from emotion_node.training.train_tokenizer import TrainConfig, train_tokenizer

# Actions of both datasets that a robot sees all day: bows, dashes, waves, raises, walking away.
DEFAULT_HELD_OUT = ("bow", "dash", "walk-back", "wave-left-hand", "raise-up-left-hand")
DEFAULT_VISIBLE = (21, 18, 15, 12, 10, 8, 6, 4)


def visibility_study(data: DataRoots, cfg: TrainConfig,
                     held_out: Sequence[str] = DEFAULT_HELD_OUT,
                     visible: Sequence[int] = DEFAULT_VISIBLE, repeats: int = 3,
                     seed: int = 0, progress: bool = False) -> Dict[str, object]:
    """Window accuracy per dataset at each count of visible joints (held-out actions only)."""
    clips = index_clips(data)
    contents = {c.content for c in clips}
    unknown = sorted(set(held_out) - contents)
    if unknown:
        raise ValueError(f"held-out actions not in the data: {unknown}")
    if any(not 1 <= n <= NUM_JOINTS for n in visible):
        raise ValueError(f"visible joint counts must lie in 1..{NUM_JOINTS}, got {list(visible)}")
    labels = cfg.tokenizer.labels
    train = [c for c in clips if c.content not in held_out]
    records = load_records(train)
    model, _ = train_tokenizer(records, emotion_clips(train, labels), range(len(records)), cfg,
                               progress=progress)
    test = [clips[i] for i in emotion_clips(clips, labels) if clips[i].content in held_out]
    test_records = load_records(test)
    pre = cfg.tokenizer.preprocess
    # Each clip's raw windows, cut once for every joint count.
    test_windows = [(record, *raw_eval_windows(record, pre)[:2]) for record in test_records]
    rng = np.random.default_rng(seed)
    rows: List[Dict[str, object]] = []
    for n_visible in visible:
        correct: Dict[str, List[bool]] = {}
        # The whole body has one subset only; fewer joints get several random ones per clip.
        draws = 1 if n_visible == NUM_JOINTS else repeats
        for record, windows, mask in test_windows:
            if not len(windows):
                continue
            target = labels.index(record.info.emotion)
            for _ in range(draws):
                keep = np.zeros(NUM_JOINTS, bool)
                keep[rng.choice(NUM_JOINTS, n_visible, replace=False)] = True
                x, m = preprocess_batch(windows, mask & keep[None, None], pre)
                hits = window_logits(model, x, m).argmax(1) == target
                correct.setdefault(record.info.dataset, []).extend(hits.tolist())
        row: Dict[str, object] = {"visible_joints": n_visible,
                                  "fraction": round(n_visible / NUM_JOINTS, 3)}
        row.update({f"window_accuracy_{name}": float(np.mean(hits))
                    for name, hits in sorted(correct.items())})
        row["windows"] = {name: len(hits) for name, hits in sorted(correct.items())}
        rows.append(row)
        if progress:
            print(row, flush=True)
    return {"held_out": list(held_out), "repeats": repeats, "seed": seed,
            "chance": 1.0 / len(labels), "rows": rows}


def visibility_markdown(result: Dict[str, object]) -> str:
    """The study as a markdown table (one column per dataset)."""
    rows = result["rows"]
    assert isinstance(rows, list)
    names = sorted({k[len("window_accuracy_"):] for r in rows for k in r
                    if k.startswith("window_accuracy_")})
    header = " | ".join(f"{n} window acc." for n in names)
    lines = [f"| visible joints | fraction | {header} |",
             "|---:|---:|" + "---:|" * len(names)]
    for r in rows:
        cells = [f"{100 * r[f'window_accuracy_{n}']:.1f} %" if f"window_accuracy_{n}" in r
                 else "-" for n in names]
        lines.append(f"| {r['visible_joints']} | {r['fraction']:.2f} | {' | '.join(cells)} |")
    return "\n".join(lines)
