"""ONNX export of the skeleton tokenizer, with labels, joint order and preprocessing embedded.

The exported graph takes `x (persons, T, 21, 3) float32` and `mask (persons, T, 21) float32`
(1 = joint present) and returns the model's OUTPUT_NAMES. Its metadata_props record everything a
consumer needs without the JSON config, plus the sha256 of the weights and config it came from,
so a stale `model.onnx` (weights retrained since) is detected and re-exported.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from emotion_node.cache import cache_root
from emotion_node.model.model_files import (
    ONNX_FILE, WEIGHTS_FILE, ModelFileError, model_hashes, require_file, require_model_dir)

# Opset 18 is read by every ONNX Runtime and TensorRT 10 parser in use.
DEFAULT_OPSET = 18
# Upper bound of the dynamic persons axis; TensorRT profiles use their own, smaller maximum.
MAX_EXPORT_PERSONS = 1024
PRODUCER = "emotion_node"


def build_metadata(config: Any, hashes: Dict[str, str], opset: int) -> Dict[str, str]:
    """Return the metadata_props of an export of `config` with weight/config hashes `hashes`;
    every value is a string (JSON where structured)."""
    from emotion_node.model.tokenizer import OUTPUT_NAMES

    t, j = config.preprocess.window_frames, len(config.joints)
    inputs = {
        "x": {"shape": ["persons", t, j, 3], "dtype": "float32",
              "meaning": "preprocess_window output: normalised canonical positions"},
        "mask": {"shape": ["persons", t, j], "dtype": "float32", "meaning": "1 = joint present"},
    }
    return {
        "producer": PRODUCER,
        "labels": json.dumps(list(config.labels)),
        "joint_order": json.dumps(list(config.joints)),
        "preprocess": json.dumps(config.preprocess.to_dict(), sort_keys=True),
        "tokenizer_config": json.dumps(config.to_dict(), sort_keys=True),
        "inputs": json.dumps(inputs),
        "outputs": json.dumps(list(OUTPUT_NAMES)),
        "weights_sha256": hashes["weights_sha256"],
        "config_sha256": hashes["config_sha256"],
        "opset": str(opset),
    }


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress prints and optional-dependency warnings."""
    names = ("torch.onnx", "torch.export", "onnxscript", "onnx_ir")
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def export_onnx(model_dir: Path, out_path: Optional[Path] = None,
                opset: Optional[int] = None) -> Path:
    """Export the tokenizer in `model_dir` to ONNX (default `model_dir/model.onnx`); return it."""
    import torch

    from emotion_node.model.tokenizer import INPUT_NAMES, OUTPUT_NAMES, load_tokenizer_checked

    model_dir = require_model_dir(model_dir)
    model, config = load_tokenizer_checked(model_dir)
    hashes = model_hashes(model_dir)
    out_path = Path(out_path) if out_path is not None else model_dir / ONNX_FILE
    opset = DEFAULT_OPSET if opset is None else int(opset)
    t, j = config.preprocess.window_frames, len(config.joints)
    # Two persons: an example batch of one would be specialised into a constant.
    example = (torch.zeros(2, t, j, 3), torch.ones(2, t, j))
    persons = torch.export.Dim("persons", min=1, max=MAX_EXPORT_PERSONS)
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            model, example, dynamo=True, input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES), opset_version=opset,
            dynamic_shapes={"x": {0: persons}, "mask": {0: persons}}, verbose=False)
    if program is None:  # the dynamo exporter always returns a program; the type allows None
        raise ModelFileError(f"exporting {model_dir} to ONNX produced no program")
    program.model.metadata_props.update(build_metadata(config, hashes, opset))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: a reader never sees a half-written file.
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=out_path.parent)
    os.close(fd)
    try:
        program.save(tmp, external_data=False)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; the node may run as another user
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return out_path


def read_onnx_metadata(onnx_path: Path) -> Dict[str, str]:
    """Return an ONNX file's metadata_props; ModelFileError naming the file when unreadable."""
    path = require_file(onnx_path, "ONNX model")
    try:
        import onnx

        proto = onnx.load(str(path), load_external_data=False)
        return {prop.key: prop.value for prop in proto.metadata_props}
    except ImportError:  # inference-only installs may carry onnxruntime but not onnx
        import onnxruntime

        try:
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own unrelated types for bad files
            raise ModelFileError(f"ONNX model {path} cannot be read: {exc}") from exc
        return dict(session.get_modelmeta().custom_metadata_map)
    except Exception as exc:  # onnx raises DecodeError/ValueError/OSError for bad bytes
        raise ModelFileError(f"ONNX model {path} cannot be read: {exc}") from exc


def onnx_stale_reason(onnx_path: Path, model_dir: Path) -> Optional[str]:
    """Why `onnx_path` does not match the weights in `model_dir` (None when it is current)."""
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        return f"{onnx_path} does not exist"
    try:
        meta = read_onnx_metadata(onnx_path)
    except ModelFileError as exc:
        return str(exc)
    for key, value in model_hashes(model_dir).items():
        if meta.get(key) != value:
            name = key.replace("_sha256", "")
            return (f"{onnx_path} was exported from other {name} ({key} "
                    f"{meta.get(key, 'missing')[:12]} != {value[:12]})")
    return None


def ensure_onnx(model_dir: Path, logger: Any = None) -> Path:
    """Return a current ONNX file for `model_dir`, exporting it when missing or stale.

    The export goes to `model_dir/model.onnx`, or under `cache_root()` when the model directory
    is read-only (an installed package). A directory holding only `model.onnx` is used as is.
    """
    model_dir = require_model_dir(model_dir)
    onnx_path = model_dir / ONNX_FILE
    if not (model_dir / WEIGHTS_FILE).is_file():
        if onnx_path.is_file():
            return onnx_path  # ONNX-only deployment: nothing to compare against
        require_file(model_dir / WEIGHTS_FILE, "tokenizer weights")  # raises, naming the file
    reason = onnx_stale_reason(onnx_path, model_dir)
    if reason is None:
        return onnx_path
    target = onnx_path
    if not os.access(model_dir, os.W_OK):
        weights_sha = model_hashes(model_dir)["weights_sha256"]
        target = cache_root() / "onnx" / weights_sha[:16] / ONNX_FILE
        if onnx_stale_reason(target, model_dir) is None:
            return target
    try:
        import torch  # noqa: F401  (export needs it; inference does not)
    except ImportError as exc:
        raise ModelFileError(f"{reason}; re-exporting needs torch ({exc}): run "
                             f"`emotion-node export --model {model_dir}` where torch is "
                             f"installed") from exc
    export_onnx(model_dir, target)
    (logger or logging.getLogger(__name__)).warning(
        f"exported the tokenizer to {target} because {reason}")
    return target
