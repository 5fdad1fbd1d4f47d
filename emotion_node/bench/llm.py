"""Benchmark the LLM explainer: seconds per explanation and generation steps per second.

Each run is the node's whole request on one real window (`answers.answer_batch`: the explainer's
own reading, then the explanation of the tokenizer's label from the window's tokens and cue hint,
sampled as configured with its greedy fallback generated beside it, a rejected sample replaced by
the greedy answer and a rejected greedy one by the composer's; `sources` counts which), one
window, KV cache, the adapter merged into the LLM as the node loads it; `--decoding both`
times decoding under the window's grammar and free decoding side by side on the same windows. On
CUDA a second row uses a static cache in bfloat16. Rows: {"device", "tokens_per_s",
"s_per_explanation", ...}.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from emotion_node.model.answers import SOURCES, answer_batch


def _inputs(model_dir: Path, runs: int) -> list[tuple[tuple, str, np.ndarray, str]]:
    """`runs` real windows spread over the data: (tokens, head label, span cues, action)."""
    from emotion_node.model.labels import EMOTION_STYLES
    from emotion_node.model.tokenizer import TokenizerConfig
    from emotion_node.training.window_table import build_window_table
    from emotion_node.model.model_files import read_config

    labels = TokenizerConfig.from_dict(read_config(model_dir)).labels
    table = build_window_table(model_dir, progress=False)
    rows = np.where(np.isin(table.emotions, EMOTION_STYLES))[0]
    rows = rows[np.linspace(0, len(rows) - 1, runs).round().astype(int)]
    keys = table.action_keys()
    return [(tuple(t[r:r + 1] for t in (table.temporal, table.spatial, table.semantic)),
             labels[int(table.probs[r].argmax())], table.span_cues(r), str(keys[r]))
            for r in rows]


def measure(explainer: Any, inputs: list, device: str, **generate_kwargs: Any) -> dict:
    """Time one explanation per input (after one warm-up); return a result row."""
    import torch

    def once(tokens, label, cues, content) -> int:
        answer = answer_batch(explainer, tokens, [label], [explainer.zscores(cues, content)],
                              seed=0, **generate_kwargs)[0]
        sources.append(answer.source)
        return answer.new_tokens

    sources: list[str] = []
    once(*inputs[0])
    sources.clear()
    seconds, counts = [], []
    for item in inputs:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        counts.append(once(*item))
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return {"device": device, "tokens_per_s": round(sum(counts) / sum(seconds), 1),
            "s_per_explanation": round(float(np.mean(seconds)), 3),
            "p90_s": round(float(np.percentile(seconds, 90)), 3),
            "mean_new_tokens": round(float(np.mean(counts)), 1), "runs": len(inputs),
            "sources": {k: sources.count(k) for k in SOURCES}}


def rows(model_dir: Path, explainer_dir: Optional[Path] = None, llm: Optional[str] = None,
         device: str = "auto", runs: int = 10,
         decodings: Sequence[str] = ("grammar",)) -> list[dict]:
    """Every benchmark row this machine can run (`device` auto: the CPU, and CUDA when
    present), `runs` explanations each, a row per decoding (`ExplainerConfig.decoding`: under
    the window's grammar, or free as before it) on the CPU; `explainer_dir` defaults to
    `<model_dir>/explainer`, `llm` to the one the explainer was trained on."""
    import torch

    from emotion_node.model.explainer import Explainer
    from emotion_node.model.model_files import default_explainer_dir

    inputs = _inputs(model_dir, runs)
    explainer_dir = explainer_dir or default_explainer_dir(model_dir)
    devices = ["cpu", "cuda"] if device == "auto" else [device]
    if "cuda" in devices and not torch.cuda.is_available():
        if device == "cuda":
            raise RuntimeError("--device cuda: torch sees no CUDA device")
        devices.remove("cuda")
    out = []
    for device in devices:
        explainer = Explainer.load(explainer_dir, llm=llm, device=device)
        for decoding in decodings:
            explainer.config.decoding = decoding
            row = measure(explainer, inputs, device)
            row.update(dtype="float32", cache="dynamic", decoding=decoding,
                       threads=torch.get_num_threads() if device == "cpu" else None)
            out.append(row)
        if device == "cuda":
            del explainer
            fast = Explainer.load(explainer_dir, llm=llm, device=device, dtype="bfloat16")
            fast.config.decoding = decodings[0]
            row = measure(fast, inputs, device, cache_implementation="static")
            row.update(dtype="bfloat16", cache="static", decoding=decodings[0], threads=None)
            out.append(row)
    return out


def print_rows(rows: list[dict]) -> None:
    """One readable line per row."""
    for row in rows:
        print(f"{row['device']:>5} {row['dtype']:>9} {row['cache']:>8} "
              f"{row.get('decoding', 'free'):>7}: "
              f"{row['s_per_explanation']:.3f} s/explanation, {row['tokens_per_s']:.1f} tokens/s "
              f"({row['mean_new_tokens']} tokens, {row['runs']} runs; answers "
              f"{', '.join(f'{k} {v}' for k, v in row['sources'].items())})")
