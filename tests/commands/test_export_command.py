"""`emotion-node export`: writes a current ONNX file, skips a current one, fails clearly."""
import argparse
import json

import pytest

from emotion_node.commands import export as command
from emotion_node.runtime.export import onnx_stale_reason, read_onnx_metadata


def _args(*argv):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_export_writes_then_reports_current(model_dir, tmp_path, capsys):
    out = tmp_path / "exported.onnx"
    assert command.main(_args("--model", str(model_dir), "--out", str(out))) == 0
    assert onnx_stale_reason(out, model_dir) is None
    assert "wrote" in capsys.readouterr().out
    stamp = out.stat().st_mtime_ns
    assert command.main(_args("--model", str(model_dir), "--out", str(out))) == 0
    assert "is current" in capsys.readouterr().out and out.stat().st_mtime_ns == stamp
    assert json.loads(read_onnx_metadata(out)["labels"])[0] == "normal"


def test_bad_arguments_and_missing_files_fail_clearly(model_dir, tmp_path, capsys):
    assert command.main(_args("--model", str(model_dir), "--fp16")) == 2
    assert "--tensorrt" in capsys.readouterr().err
    assert command.main(_args("--model", str(model_dir), "--max-persons", "0")) == 2
    assert "--max-persons" in capsys.readouterr().err
    assert command.main(_args("--model", str(tmp_path / "missing"))) == 1
    assert "missing" in capsys.readouterr().err


def test_tensorrt_request_without_tensorrt_fails_clearly(model_dir, capsys):
    try:
        import tensorrt  # noqa: F401
        pytest.skip("TensorRT is installed here; the engine path is tested in "
                    "test_tensorrt_cache.py")
    except ImportError:
        pass
    assert command.main(_args("--model", str(model_dir), "--tensorrt")) == 1
    assert "tensorrt" in capsys.readouterr().err
