"""Shared fixtures: a small random tokenizer and its ONNX export; a tiny random LLM. And the
ROS domains of the tests, which a second suite on the same machine can move out of the way."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer
from emotion_node.bench.tokenizer import synthetic_motion
from emotion_node.runtime.export import export_onnx
from emotion_node.skeleton.preprocess import preprocess_batch


# Two suites on one machine (two checkouts, parallel CI jobs) share its DDS traffic: every
# test's ROS_DOMAIN_ID (a module's DOMAIN_ID, a ros_domain marker, run_tests.sh's default) is
# its own number plus this (default 0; 13 keeps clear of an unmoved run, which uses 37-72).
DOMAIN_SHIFT_ENV = "EMOTION_NODE_TEST_DOMAIN_SHIFT"


def pytest_collection_modifyitems(items) -> None:
    """Move each test module's DOMAIN_ID by the shift, once (read when the tests run)."""
    shift = int(os.environ.get(DOMAIN_SHIFT_ENV, "0"))
    for module in {item.module for item in items if getattr(item, "module", None)}:
        if shift and hasattr(module, "DOMAIN_ID") and not hasattr(module, "DOMAIN_SHIFTED"):
            module.DOMAIN_ID += shift
            module.DOMAIN_SHIFTED = shift


def make_model(seed: int) -> tuple:
    """A randomly initialised tokenizer whose normalisation statistics are not the identity."""
    torch.manual_seed(seed)
    config = TokenizerConfig()
    model = SkeletonTokenizer(config).eval()
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0.0, 0.2)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
    return model, config


@pytest.fixture(scope="session")
def save_model():
    """Return a function that saves a seeded random tokenizer into a directory."""
    def _save(directory: Path, seed: int = 0) -> Path:
        model, config = make_model(seed)
        return save_tokenizer(model, config, directory)
    return _save


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, save_model) -> Path:
    """A saved random tokenizer with its ONNX export beside it (treat as read-only)."""
    directory = save_model(tmp_path_factory.mktemp("model"))
    export_onnx(directory)
    return directory


@pytest.fixture(scope="session")
def window_frames() -> int:
    """Window length of the fixture model."""
    return TokenizerConfig().preprocess.window_frames


def random_inputs(batch: int, frames: int, seed: int = 0) -> tuple:
    """Unit-normal x with ~20% of joints masked."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, frames, 21, 3), dtype=np.float32)
    return x, rng.random((batch, frames, 21)) > 0.2


def real_shaped_inputs(batch: int, frames: int, seed: int = 0) -> tuple:
    """Walking-like motion in metres through the real preprocessing."""
    config = TokenizerConfig().preprocess
    raw, mask = synthetic_motion(batch, frames, config.fps, np.random.default_rng(seed))
    return preprocess_batch(raw, mask, config)


@pytest.fixture(params=["random", "real-shaped"])
def make_inputs(request):
    """Parametrised input maker: random normals, or preprocessed walking-like motion."""
    return random_inputs if request.param == "random" else real_shaped_inputs


@pytest.fixture(scope="session")
def random_batch():
    """Return `random_inputs` (test modules cannot import conftest helpers)."""
    return random_inputs


class RecordingLogger:
    """Logger stand-in (the ROS and logging APIs share warning/info) that keeps every line."""

    def __init__(self) -> None:
        self.lines: list = []

    def warning(self, message: str) -> None:
        self.lines.append(("warning", message))

    def info(self, message: str) -> None:
        self.lines.append(("info", message))


@pytest.fixture
def recording_logger() -> RecordingLogger:
    """A fresh RecordingLogger."""
    return RecordingLogger()


CHAT = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _tiny_tokenizer():
    """A byte-level BPE tokenizer trained in-process on the explainer's own phrases."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from emotion_node.model.explainer import Prompt
    from emotion_node.model.labels import EMOTION_STYLES
    from emotion_node.model.wording import CUE_WORDINGS, compose_answer

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [compose_answer(s, [], [], None) for s in EMOTION_STYLES]
    corpus += [t for ts in CUE_WORDINGS.values() for t in ts]
    corpus += [Prompt(t, "sad", "slower", "jerky").user_text() for t in ("recognise", "explain")]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus * 3, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|im_end|>")
    fast.chat_template = CHAT
    return fast


def _tiny_llm(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.eos_token_id, tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()


class TinyLLM:
    """A tiny random Llama + tokenizer in a local Hugging Face folder (`dir`), and makers of the
    explainers, tokens and window tables the explainer tests feed it."""

    D, TT, P, K = 16, 4, 6, 2  # token width; temporal, body-part and semantic token counts

    def __init__(self, folder: Path) -> None:
        self.dir = folder

    def explainer(self, **overrides):
        """A fresh explainer on the tiny LLM (seeded: equal overrides, equal weights)."""
        from emotion_node.model.explainer import Explainer, ExplainerConfig

        torch.manual_seed(0)
        settings = {"max_new_tokens": 12, **overrides}
        config = ExplainerConfig(llm=str(self.dir), token_dim=self.D, projector_hidden=32,
                                 **settings)
        return Explainer.create(config)

    def tokens(self, batch: int, seed: int = 0) -> tuple:
        """Random (temporal, spatial, semantic) tokens of `batch` windows."""
        rng = np.random.default_rng(seed)
        return tuple(rng.standard_normal((batch, n, self.D)).astype(np.float32)
                     for n in (self.TT, self.P, self.K))

    def table(self, n: int = 42, seed: int = 0):
        """A random WindowTable of Dataset 1: eight styles (seven emotions and `old`) over
        three actions."""
        from emotion_node.model.labels import EMOTION_STYLES
        from emotion_node.skeleton.cues import CUE_NAMES
        from emotion_node.training.window_table import WindowTable

        rng = np.random.default_rng(seed)
        styles = np.array([(list(EMOTION_STYLES) + ["old"])[i % 8] for i in range(n)])
        contents = np.array(["walk", "bow", "bye"])[np.arange(n) % 3]
        return WindowTable(
            temporal=rng.standard_normal((n, self.TT, self.D)).astype(np.float32),
            spatial=rng.standard_normal((n, self.P, self.D)).astype(np.float32),
            semantic=rng.standard_normal((n, self.K, self.D)).astype(np.float32),
            probs=rng.dirichlet(np.ones(len(EMOTION_STYLES)), n).astype(np.float32),
            cues=rng.standard_normal((n, len(CUE_NAMES))).astype(np.float32),
            half_cues=rng.standard_normal((n, 2, len(CUE_NAMES))).astype(np.float32),
            contents=contents, styles=styles,
            emotions=np.where(np.isin(styles, EMOTION_STYLES), styles, ""),
            datasets=np.array(["dataset-1"] * n), clip=np.arange(n) // 4)


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory) -> TinyLLM:
    """The tiny LLM, saved once per session (one torch thread: small models, shared cores)."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("tiny_llm")
    tokenizer = _tiny_tokenizer()
    _tiny_llm(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return TinyLLM(folder)


# A small subset of both datasets: every emotion style of two Dataset 1 actions (plus one
# expressive style), and two takes of three styles of two Dataset 2 actions.
_D1_SUBSET = [(content, style) for content in ("bow", "dash") for style in (
    "normal", "happy", "sad", "angry", "proud", "not-confident", "tired", "old")]
_D2_SUBSET = [(content, style) for content in ("wave-left-hand", "walk")
              for style in ("normal", "exhausted", "youthful")]


@pytest.fixture(scope="session")
def two_dataset_roots(tmp_path_factory) -> list:
    """Roots of a small two-dataset subset (links to the shared copies; skipped without them)."""
    from emotion_node.skeleton.dataset import default_data_root

    try:
        sources = {key: default_data_root(key) for key in ("dataset-1", "dataset-2")}
    except FileNotFoundError as err:
        pytest.skip(f"both datasets are needed: {err}")
    base = tmp_path_factory.mktemp("two_datasets")
    names = {"dataset-1": [f"dataset-1_{c}_{s}_001" for c, s in _D1_SUBSET],
             "dataset-2": [p.stem for c, s in _D2_SUBSET  # its first two takes
                           for p in sorted((sources["dataset-2"] / "data").glob(
                               f"dataset-2_{c}_{s}_*.bvh"))[:2]]}
    roots = []
    for key, source in sources.items():
        root = base / key
        (root / "data").mkdir(parents=True)
        (root / "cfg").symlink_to(source / "cfg")
        for name in names[key]:
            for suffix in (".bvh", ".json"):
                (root / "data" / (name + suffix)).symlink_to(source / "data" / (name + suffix))
        roots.append(root)
    return roots


@pytest.fixture(scope="session")
def egait_root(tmp_path_factory) -> Path:
    """A small Emotion-Gait copy: four walkers' four walks, and one unnamed library's gaits
    (links to the shared copy; skipped without it)."""
    from emotion_node.skeleton.dataset import EMOTION_GAIT, default_data_roots

    try:
        source = next(r for r in default_data_roots() if (r / "labels.csv").is_file()
                      and r.name == EMOTION_GAIT.dirname)
    except (FileNotFoundError, StopIteration):
        pytest.skip("Emotion-Gait not found (../shared/data/emotion-gait)")
    lines = (source / "labels.csv").read_text().splitlines()
    keep = [ln for ln in lines[1:] if ln.split(",")[2] == "numbered"][:16] + \
        [ln for ln in lines[1:] if ln.split(",")[2] == "scene"][:4]
    root = tmp_path_factory.mktemp("egait")
    (root / "gaits").mkdir()
    for line in keep:
        name = line.split(",")[0]
        (root / name).symlink_to(source / name)
    (root / "labels.csv").write_text("\n".join([lines[0]] + keep) + "\n")
    return root
