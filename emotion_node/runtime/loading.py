"""A model folder ready to run: its backend, its preprocessing, and the name and hash it reports.

The node (through `emotion_node.ros.pipeline.load_model`, with its parameters) and the `explain`
command load a model here, so both read the preprocessing from the same place (the config, or
an ONNX-only export's metadata) and refuse the same mismatches.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from emotion_node.model import model_files
from emotion_node.model.person_baseline import CONFIG_KEY, population_from_config
from emotion_node.runtime.backends import DEFAULT_MAX_PERSONS, create_backend
from emotion_node.runtime.base import TokenizerBackend
from emotion_node.runtime.export import read_onnx_metadata
from emotion_node.skeleton.preprocess import PreprocessConfig


@dataclass
class LoadedModel:
    """A tokenizer backend and what the outputs say about it."""

    backend: TokenizerBackend
    preprocess: PreprocessConfig
    directory: Path
    name: str
    hash: str  # first 16 hex digits of the weights' SHA-256 (of model.onnx when ONNX-only)
    # The population mean log-probabilities person baselines are read against (None: the
    # model records none, so the node reads everyone with the absolute model).
    population: Optional[np.ndarray] = None


def _preprocess_config(directory: Path) -> tuple[PreprocessConfig, dict]:
    """The folder's preprocessing and its config (empty for an ONNX-only folder)."""
    weights = directory / model_files.WEIGHTS_FILE
    if weights.is_file() or not (directory / model_files.ONNX_FILE).is_file():
        config = model_files.read_config(directory)
        preprocess = config.get('preprocess', {})
    else:  # an ONNX-only deployment carries its preprocessing in the metadata
        metadata = read_onnx_metadata(directory / model_files.ONNX_FILE)
        config = json.loads(metadata.get('tokenizer_config', '{}'))
        preprocess = json.loads(metadata.get('preprocess', '{}'))
    try:
        return PreprocessConfig.from_dict(preprocess), config
    except (TypeError, ValueError) as err:
        raise model_files.ModelFileError(
            f'preprocessing in {directory / model_files.CONFIG_FILE} is invalid: {err}') from err


def load_model(directory: Optional[Path] = None, backend: str = 'auto', device: str = 'cpu',
               logger: Any = None, *, max_persons: int = DEFAULT_MAX_PERSONS,
               fp16: bool = False) -> LoadedModel:
    """Create the backend for a model folder (default: the package's); ModelFileError naming
    the file when something in it is bad. The options are `create_backend`'s."""
    directory = Path(directory).expanduser() if directory else model_files.default_model_dir()
    model_files.require_model_dir(directory)
    preprocess, config = _preprocess_config(directory)
    chosen = create_backend(directory, backend, device, logger, max_persons=max_persons,
                            fp16=fp16)
    if preprocess.window_frames != chosen.window_frames:
        chosen.close()
        raise model_files.ModelFileError(
            f'{directory}: config window_frames {preprocess.window_frames} differs from the '
            f'backend model\'s {chosen.window_frames}; re-export the model')
    weights = directory / model_files.WEIGHTS_FILE
    digest = model_files.sha256_file(weights if weights.is_file()
                                     else directory / model_files.ONNX_FILE)
    name = str(config.get('training', {}).get('name', '') or directory.name)
    try:
        population = population_from_config(config.get('training', {}), chosen.labels)
    except (TypeError, ValueError) as err:
        chosen.close()
        raise model_files.ModelFileError(
            f'{directory / model_files.CONFIG_FILE}: training.{CONFIG_KEY} is invalid: '
            f'{err}') from err
    return LoadedModel(chosen, preprocess, directory, name, digest[:16], population)
