"""`emotion-node bench tokenizer`: JSON layout, side-by-side rows, ratios and argument errors."""
import json

import numpy as np

from emotion_node import cli
from emotion_node.bench import tokenizer as bench


def run(*argv: str) -> int:
    return cli.main(["bench", "tokenizer", *argv])


def test_json_has_rows_for_every_backend_and_batch(model_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert run("--json", str(out), "--model", str(model_dir), "--repeats", "5",
               "--warmup", "1", "--persons", "1", "3", "--device", "cpu") == 0
    result = json.loads(out.read_text())
    rows = {(r["backend"], r["persons"]): r for r in result["rows"]}
    assert set(rows) == {(b, p) for b in ("torch", "onnxruntime") for p in (1, 3)}
    for row in result["rows"] + result["preprocess_rows"]:
        assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert [r["persons"] for r in result["preprocess_rows"]] == [1, 3]
    for ratio in result["ratios"]:
        p = ratio["persons"]
        expected = rows[("torch", p)]["p50_ms"] / rows[("onnxruntime", p)]["p50_ms"]
        assert abs(ratio["p50_ratio"] - expected) < 1e-2
    assert len(result["ratios"]) == 2
    assert result["model"]["kind"] == "trained" and result["model"]["parameters"] > 0
    assert result["machine"]["cpu_count"] >= 1
    printed = capsys.readouterr().out
    assert "torch / onnxruntime p50 at 3 persons" in printed


def test_ort_sweep_times_every_option(model_dir, tmp_path):
    out = tmp_path / "bench.json"
    assert run("--json", str(out), "--model", str(model_dir), "--repeats", "2",
               "--warmup", "0", "--persons", "2", "--device", "cpu", "--ort-sweep") == 0
    sweep = json.loads(out.read_text())["ort_options"]
    keys = {(r["threads"], r["level"], r["spinning"]) for r in sweep}
    assert keys == set(bench.SWEEP) and all(r["persons"] == 2 for r in sweep)


def test_bad_arguments_and_missing_model_fail_clearly(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert run("--json", str(out), "--repeats", "0") == 2
    assert "--repeats" in capsys.readouterr().err
    assert run("--json", str(out), "--model", str(tmp_path / "gone")) == 1
    assert "gone" in capsys.readouterr().err
    assert not out.exists()


def test_time_interleaved_calls_each_function_warmup_plus_repeats():
    counts = {"a": 0, "b": 0}

    def call(name):
        counts[name] += 1

    stats = bench.time_interleaved({n: (lambda n=n: call(n)) for n in counts}, 7, 2)
    assert counts == {"a": 9, "b": 9}
    assert set(stats) == {"a", "b"} and stats["a"]["p50_ms"] >= 0


def test_synthetic_motion_is_plausible():
    positions, mask = bench.synthetic_motion(4, 30, 15.0, np.random.default_rng(0))
    assert positions.shape == (4, 30, 21, 3) and mask.shape == (4, 30, 21)
    assert positions.dtype == np.float32 and 0.8 < mask.mean() < 1.0
    travelled = positions[:, -1, :, 0].mean() - positions[:, 0, :, 0].mean()
    assert 1.5 < travelled < 2.5  # 29 frames at 15 fps and 1.2 m/s: about 2.3 m
