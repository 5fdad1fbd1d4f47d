"""Files of a model directory: names, content hashes, clear errors and checked loading."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from emotion_node.package_files import PACKAGE, SOURCE_ROOT, installed_share_dir

# The files of a model folder; here, not beside the model code, so ONNX/TensorRT inference can
# find them without importing torch.
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
ONNX_FILE = "model.onnx"
# The explainer saved beside a tokenizer (emotion_node.model.explainer writes these).
EXPLAINER_DIR = "explainer"
EXPLAINER_CONFIG_FILE = "explainer.json"


class ModelFileError(RuntimeError):
    """A model file is missing, unreadable or corrupt; the message names the file."""


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_model_dir() -> Path:
    """The package's default tokenizer: `models/default` of the source tree, else of the install.

    A symlink install resolves to the source tree, so files added there count without a
    rebuild. Installed, the models are in the package's share folder: found through the ament
    index, else beside the Python prefix (`<prefix>/lib/pythonX.Y/site-packages/...`).
    """
    source = SOURCE_ROOT / "models" / "default"
    if (source / CONFIG_FILE).is_file():
        return source  # asked first: the source tree needs no ROS environment
    candidates = [share / "models" / "default" for share in (installed_share_dir(),) if share]
    here = Path(__file__).resolve()  # <prefix>/lib/pythonX.Y/site-packages/emotion_node/...
    if len(here.parents) > 5:
        candidates.append(here.parents[5] / "share" / PACKAGE / "models" / "default")
    return next((c for c in candidates if (c / CONFIG_FILE).is_file()), source)


def require_file(path: Path, what: str) -> Path:
    """Return `path` if it is a file, else raise ModelFileError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{what} not found: {path}")
    return path


def require_model_dir(model_dir: Path) -> Path:
    """Return `model_dir` if it is a directory, else raise ModelFileError naming it."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelFileError(f"model directory not found: {model_dir}")
    return model_dir


def model_hashes(model_dir: Path) -> Dict[str, str]:
    """Return the sha256 of the weights and the config: the identity an ONNX export records."""
    model_dir = Path(model_dir)
    weights = require_file(model_dir / WEIGHTS_FILE, "tokenizer weights")
    config = require_file(model_dir / CONFIG_FILE, "tokenizer config")
    return {"weights_sha256": sha256_file(weights), "config_sha256": sha256_file(config)}


def read_config(model_dir: Path) -> Dict[str, Any]:
    """Read `config.json` as a dict; ModelFileError naming the file when it is not valid JSON."""
    path = require_file(Path(model_dir) / CONFIG_FILE, "tokenizer config")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"tokenizer config {path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelFileError(f"tokenizer config {path} holds {type(data).__name__}, not an object")
    return data


def tokenizer_fingerprint(tokenizer_dir: Path) -> str:
    """Short hash of what shapes a tokenizer's tokens: its weights and architecture config.

    The classifier and the training metadata are left out, so folding a calibration
    temperature into the classifier or adding notes keeps an explainer matched.
    """
    from safetensors.numpy import load_file as load_numpy

    tokenizer_dir = Path(tokenizer_dir)
    config = read_config(tokenizer_dir)
    config.pop("training", None)
    config.pop("labels", None)  # only the classifier depends on the labels
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode())
    weights = load_numpy(str(require_file(tokenizer_dir / WEIGHTS_FILE, "tokenizer weights")))
    for name in sorted(k for k in weights if not k.startswith("classifier.")):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(weights[name]).tobytes())
    return digest.hexdigest()[:16]


def default_explainer_dir(model_dir: Path) -> Path:
    """Where a tokenizer's explainer is saved by default: `<model_dir>/explainer`."""
    return Path(model_dir) / EXPLAINER_DIR


def fingerprint_mismatch(recorded: Optional[str], explainer_dir: Path, tokenizer_dir: Path) -> str:
    """Why an explainer that recorded tokenizer `recorded` cannot read `tokenizer_dir`'s tokens
    ('' if it can).

    An explainer's projector was trained on one tokenizer's tokens: with another it would
    explain noise. Accepted unchecked: an explainer that records no fingerprint, and a model
    folder without PyTorch weights (an ONNX-only deployment), whose tokens cannot be hashed.
    """
    if not recorded or not (Path(tokenizer_dir) / WEIGHTS_FILE).is_file():
        return ""
    actual = tokenizer_fingerprint(tokenizer_dir)
    if recorded == actual:
        return ""
    return (f"explainer {Path(explainer_dir)} was trained on tokenizer {recorded}, but "
            f"{Path(tokenizer_dir)} is tokenizer {actual}: retrain the explainer "
            f"(emotion-node train-explainer --tokenizer {Path(tokenizer_dir)} --out DIR) or "
            f"point at the matching one")


def explainer_mismatch(explainer_dir: Path, tokenizer_dir: Path) -> str:
    """`fingerprint_mismatch` for the explainer saved in `explainer_dir` (reads its config)."""
    path = require_file(Path(explainer_dir) / EXPLAINER_CONFIG_FILE, "explainer config")
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")).get("training", {}).get(
            "tokenizer")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        return f"explainer config {path} is not readable JSON: {exc}"
    return fingerprint_mismatch(recorded, explainer_dir, tokenizer_dir)
