"""The EAI-LLM explainer: skeleton tokens -> projector -> chat prompt -> LoRA-tuned LLM -> words.

The tokenizer's temporal (B, T', D), body-part (B, P, D) and semantic (B, K, D) tokens pass through
a small MLP (`SkeletonProjector`) into the LLM's embedding space and replace the `<skeleton>`
placeholder of a chat-template prompt; the LLM reads the result through `inputs_embeds`. The prompt
may also carry the window's salient cues as short measurement lines (`wording.hint_words`), so
the answer's movement claims can be copied from measurements instead of guessed: for a label to
explain, the cues that fit it and those against it, and the second reading when the explainer's
own (`answers.read`) differs.
Saved form (`Explainer.save`): `explainer.json`, `projector.safetensors` and a peft LoRA adapter
(`adapter_config.json`, `adapter_model.safetensors`).
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
import warnings
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from emotion_node.model import answers
from emotion_node.model.explanations import CueReference, to_style
from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.llm import DEFAULT_LLM, load_llm
from emotion_node.model.model_files import EXPLAINER_CONFIG_FILE, fingerprint_mismatch
from emotion_node.model.wording import (
    EMOTION_WORDS, MAX_HINTED, hint_words, salient_claims, split_by_label)

PLACEHOLDER = "<skeleton>"
CONFIG_FILE = EXPLAINER_CONFIG_FILE
PROJECTOR_FILE = "projector.safetensors"
TASKS = ("recognise", "explain", "describe")
DECODINGS = ("grammar", "free")
_NUM_TOKEN_TYPES = 3  # temporal, spatial, semantic


@dataclass
class ExplainerConfig:
    """Projector, LoRA and prompt settings of one explainer; saved beside its weights."""

    llm: str = DEFAULT_LLM          # LLM the adapter was trained on (name, .gguf or folder)
    token_dim: int = 64             # D of the skeleton tokenizer
    projector_hidden: int = 256
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    max_new_tokens: int = 80
    # Answers are sampled (temperature > 0, nucleus top_p) for varied words; an answer the
    # checker rejects is replaced by the greedy one (`answers.answer_batch`). 0: greedy only.
    # Under the grammar the temperature only changes which true answer is drawn, so it can be
    # high (1.4: more varied words, measured in EVALUATION.md); free decoding was run at 0.8.
    temperature: float = 1.4
    top_p: float = 0.9
    # "grammar": an explanation is decoded under the grammar of what its window's measurements
    # allow (`answer_grammar`), so the LLM cannot write a claim they do not support; "free":
    # unconstrained, the checker alone judging (how answers were decoded before).
    decoding: str = "grammar"
    system_prompt: str = "You explain emotions from body movement."
    labels: tuple[str, ...] = EMOTION_STYLES
    reference: dict[str, Any] = field(default_factory=dict)  # CueReference.to_dict()
    training: dict[str, Any] = field(default_factory=dict)   # metadata of the run that made it

    def __post_init__(self) -> None:
        """Normalise JSON lists to tuples and check values."""
        self.lora_targets = tuple(self.lora_targets)
        self.labels = tuple(self.labels)
        unknown = [s for s in self.labels if s not in EMOTION_WORDS]
        if unknown:
            raise ValueError(f"labels {unknown} have no emotion word")
        for name in ("token_dim", "projector_hidden", "lora_r", "max_new_tokens"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ExplainerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.decoding not in DECODINGS:
            raise ValueError(f"ExplainerConfig.decoding must be one of {DECODINGS}, got "
                             f"{self.decoding!r}")
        if not (self.temperature >= 0 and 0 < self.top_p <= 1):
            raise ValueError(f"ExplainerConfig needs temperature >= 0 and 0 < top_p <= 1, got "
                             f"{self.temperature}, {self.top_p}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = asdict(self)
        out["lora_targets"], out["labels"] = list(self.lora_targets), list(self.labels)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ExplainerConfig":
        """Inverse of `to_dict`; unknown keys are an error."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown explainer config keys {unknown}")
        return cls(**dict(data))


class SkeletonProjector(nn.Module):
    """Map skeleton tokens of width D to LLM embeddings of width E, one learned offset per type."""

    embed_rms: torch.Tensor  # () buffer: the RMS of the LLM's word embeddings

    def __init__(self, token_dim: int, hidden: int, embed_dim: int, embed_rms: float = 1.0):
        super().__init__()
        self.type_embed = nn.Parameter(torch.zeros(_NUM_TOKEN_TYPES, token_dim))
        self.norm = nn.LayerNorm(token_dim)
        self.mlp = nn.Sequential(nn.Linear(token_dim, hidden), nn.GELU(),
                                 nn.Linear(hidden, embed_dim))
        # Start at the size of real word embeddings so the LLM is not flooded by huge inputs.
        self.register_buffer("embed_rms", torch.tensor(float(embed_rms)))

    def forward(self, temporal: torch.Tensor, spatial: torch.Tensor,
                semantic: torch.Tensor) -> torch.Tensor:
        """(B, T', D), (B, P, D), (B, K, D) -> (B, T'+P+K, E)."""
        parts = [t + self.type_embed[i] for i, t in enumerate((temporal, spatial, semantic))]
        h = self.mlp(self.norm(torch.cat(parts, dim=1)))  # (B, S, E)
        return h * (self.embed_rms / h.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt())


@dataclass
class Prompt:
    """One request: the task, the label to explain (task `explain`), an optional cue hint and,
    for `explain`, the cues against the label and a second reading."""

    task: str = "recognise"
    label: Optional[str] = None
    hint: Optional[str] = None     # hint_words(...) or None for tokens only
    against: Optional[str] = None  # explain: hint_words of the cues against the label
    reading: Optional[str] = None  # explain: the explainer's own, differing reading (a style)

    def user_text(self) -> str:
        """The user message with the skeleton placeholder."""
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {TASKS}")
        lines = [f"Movement: {PLACEHOLDER}"]
        if self.task == "explain":
            if self.label not in EMOTION_WORDS:
                raise ValueError(f"task 'explain' needs an emotion label, got {self.label!r}")
            if self.hint is not None:
                lines += [f"Fits: {self.hint}", f"Against: {self.against or 'none'}"]
            ask = f"The emotion is {EMOTION_WORDS[self.label]}."
            if self.reading is not None:
                if self.reading not in EMOTION_WORDS:
                    raise ValueError(f"unknown reading {self.reading!r}")
                ask += f" The movement also reads as {EMOTION_WORDS[self.reading]}."
            lines.append(ask + " Explain why.")
        elif self.task == "recognise":
            if self.hint is not None:
                lines.append(f"Cues: {self.hint}")
            lines.append("Which emotion does this movement show? Explain.")
        else:
            lines.append("Describe this movement.")
        return "\n".join(lines)


@contextlib.contextmanager
def _quiet_peft() -> Iterator[None]:
    """Silence the deprecation warning peft triggers inside transformers on every wrap."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*",
                                category=FutureWarning)
        yield


def _as_tensor(x: Union[np.ndarray, torch.Tensor], device: torch.device) -> torch.Tensor:
    """float32 tensor on `device`, with a batch axis."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    t = t.to(device=device, dtype=torch.float32)
    return t if t.dim() == 3 else t.unsqueeze(0)


class Explainer:
    """A causal LLM with a LoRA adapter that reads projected skeleton tokens and answers."""

    def __init__(self, llm: Any, tokenizer: Any, projector: SkeletonProjector,
                 config: ExplainerConfig) -> None:
        """`llm`: a peft model over a transformers causal LM, or that LM with the adapter
        merged in (typed Any: their methods reach mypy only through nn.Module's attribute
        fallback); `tokenizer`: its tokenizer."""
        self.llm, self.tokenizer, self.projector, self.config = llm, tokenizer, projector, config
        self.reference = CueReference.from_dict(config.reference) if config.reference else None
        self._prompt_cache: dict[tuple, tuple[list[int], list[int]]] = {}
        self._label_ids: Optional[tuple[list[int], dict[str, list[int]]]] = None  # answers
        self._end_ids = self._end_of_turn_ids()
        self.stop_ids = sorted({self._end_ids[0], int(tokenizer.eos_token_id)})

    # ---- construction, saving, loading -------------------------------------------------
    @classmethod
    def create(cls, config: ExplainerConfig, llm: Any = None, tokenizer: Any = None,
               device: str = "cpu") -> "Explainer":
        """Fresh projector and LoRA adapter on `llm` (loaded from `config.llm` when None)."""
        from peft import LoraConfig, get_peft_model

        if llm is None:
            llm, tokenizer = load_llm(config.llm, device=device)
        weights = llm.get_input_embeddings().weight.detach().float()
        rms = float(weights.pow(2).mean().sqrt())
        projector = SkeletonProjector(config.token_dim, config.projector_hidden,
                                      weights.shape[1], rms).to(device)
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                          lora_dropout=config.lora_dropout,
                          target_modules=list(config.lora_targets), task_type="CAUSAL_LM")
        with _quiet_peft():
            model = get_peft_model(llm, lora)
        return cls(model.eval(), tokenizer, projector.eval(), config)

    @classmethod
    def load(cls, directory: Union[str, Path], llm: Union[str, Path, None] = None,
             device: str = "cpu", dtype: Optional[str] = None,
             tokenizer_dir: Union[str, Path, None] = None, merge: bool = True) -> "Explainer":
        """Load a saved explainer onto `llm` (default: the LLM it was trained on).

        With `tokenizer_dir`, first check that the explainer was trained on that tokenizer's
        tokens (ValueError naming both when it was not). `merge`: fold the LoRA adapter into
        the LLM's weights, for answering: one matrix product per layer instead of three (about
        1.1 times faster per token on a CPU, same answers); such an explainer cannot be saved.
        """
        from peft import PeftModel

        directory = Path(directory)
        for name in (CONFIG_FILE, PROJECTOR_FILE, "adapter_config.json"):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"explainer file {directory / name} not found")
        config = ExplainerConfig.from_dict(
            json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8")))
        problem = fingerprint_mismatch(config.training.get("tokenizer"), directory,
                                       Path(tokenizer_dir)) if tokenizer_dir else ""
        if problem:
            raise ValueError(problem)
        base, tokenizer = load_llm(llm if llm is not None else config.llm, device=device,
                                   dtype=dtype)
        with _quiet_peft():
            model = PeftModel.from_pretrained(base, str(directory), is_trainable=False)
            if merge:
                model = model.merge_and_unload()
        state = load_file(str(directory / PROJECTOR_FILE))
        projector = SkeletonProjector(config.token_dim, config.projector_hidden,
                                      state["mlp.2.weight"].shape[0])
        projector.load_state_dict(state)
        return cls(model.eval(), tokenizer, projector.to(device).eval(), config)

    def save(self, directory: Union[str, Path]) -> Path:
        """Write the config, the projector and the LoRA adapter (safetensors) to `directory`."""
        if not hasattr(self.llm, "peft_config"):
            raise ValueError("this explainer's adapter was merged into the LLM at loading; "
                             "load it with merge=False to save it")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for peft_config in self.llm.peft_config.values():
            peft_config.base_model_name_or_path = self.config.llm  # no machine paths
        had_readme = (directory / "README.md").exists()
        # No embedding layers: they are not trained, and the check would look up the hub.
        self.llm.save_pretrained(str(directory), safe_serialization=True,
                                 save_embedding_layers=False)
        if not had_readme:
            (directory / "README.md").unlink(missing_ok=True)  # peft's empty model-card stub
        state = {k: v.detach().cpu().contiguous() for k, v in self.projector.state_dict().items()}
        save_file(state, str(directory / PROJECTOR_FILE), metadata={"format": "pt"})
        text = json.dumps(self.config.to_dict(), indent=2)
        (directory / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")
        return directory

    @property
    def device(self) -> torch.device:
        """Device of the projector (and the LLM)."""
        return self.projector.embed_rms.device

    # ---- prompts --------------------------------------------------------------------------
    def _render(self, messages: list[dict[str, str]], generation: bool) -> str:
        """Chat-template text; a plain fallback for models without a template."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=generation)
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
        return text + ("Assistant: " if generation else "")

    def _end_of_turn_ids(self) -> list[int]:
        """Token ids the template puts after an assistant answer (first one ends generation)."""
        base = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
        full = self._render(base + [{"role": "assistant", "content": "ANSWER"}], False)
        tail = full[full.rindex("ANSWER") + len("ANSWER"):].rstrip("\n")
        ids = self.tokenizer(tail, add_special_tokens=False)["input_ids"] if tail else []
        return ids or [int(self.tokenizer.eos_token_id)]

    def prompt_ids(self, prompt: Prompt) -> tuple[list[int], list[int]]:
        """Token ids before and after the skeleton placeholder."""
        key = (prompt.task, prompt.label, prompt.hint, prompt.against, prompt.reading)
        if key not in self._prompt_cache:
            messages = [{"role": "system", "content": self.config.system_prompt},
                        {"role": "user", "content": prompt.user_text()}]
            before, after = self._render(messages, True).split(PLACEHOLDER)
            encode = lambda s: self.tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa
            self._prompt_cache[key] = (encode(before), encode(after))
        return self._prompt_cache[key]

    def make_prompt(self, task: str, label: Optional[str] = None,
                    z: Optional[np.ndarray] = None, reading: Optional[str] = None) -> Prompt:
        """A prompt whose hint lists the salient cues of z ((7,) or (3, 7) with the halves; no
        hint when None): all of them to recognise, split into those that fit `label` and those
        against it to explain it; `reading` is named when it differs from `label`."""
        if task != "explain":
            hint = None if z is None else hint_words(salient_claims(z, MAX_HINTED))
            return Prompt(task=task, hint=hint)
        second = reading if reading is not None and reading != label else None
        if z is None:
            return Prompt("explain", label, reading=second)
        fits, against = split_by_label(label or "", salient_claims(z))
        return Prompt("explain", label, hint_words(fits), hint_words(against), second)

    # ---- embedding, loss, generation ------------------------------------------------------
    def embed(self, tokens: Sequence[Any], prompts: Sequence[Prompt],
              answers: Optional[Sequence[str]] = None, prefix: Sequence[int] = ()):
        """Splice projected tokens into the prompts: (embeds (B, L, E), mask (B, L), labels).

        Prompts are left-padded for generation (`prefix`: ids that start every answer, appended
        to each prompt); with answers they are right-padded and labels (B, L) hold the answer
        ids (-100 elsewhere).
        """
        device = self.device
        temporal, spatial, semantic = (_as_tensor(t, device) for t in tokens)
        if not temporal.shape[0] == spatial.shape[0] == semantic.shape[0] == len(prompts):
            raise ValueError(f"{len(prompts)} prompts for token batches "
                             f"{temporal.shape[0]}, {spatial.shape[0]}, {semantic.shape[0]}")
        table = self.llm.get_input_embeddings()
        skel = self.projector(temporal, spatial, semantic).to(table.weight.dtype)  # (B, S, E)
        rows, targets = [], []
        for i, prompt in enumerate(prompts):
            before, after = self.prompt_ids(prompt)
            answer = list(prefix) if answers is None else \
                self.tokenizer(answers[i], add_special_tokens=False)["input_ids"] + \
                self._end_ids[:1]
            ids = lambda x: torch.tensor(x, dtype=torch.long, device=device)  # noqa: E731
            rows.append(torch.cat([table(ids(before)), skel[i], table(ids(after + answer))]))
            targets.append([-100] * (rows[-1].shape[0] - len(answer)) + answer
                           if answers is not None else [-100] * rows[-1].shape[0])
        width = max(r.shape[0] for r in rows)
        embeds = rows[0].new_zeros(len(rows), width, rows[0].shape[1])
        mask = torch.zeros(len(rows), width, dtype=torch.long, device=device)
        labels = torch.full((len(rows), width), -100, dtype=torch.long, device=device)
        for i, row in enumerate(rows):
            n = row.shape[0]
            span = slice(width - n, width) if answers is None else slice(0, n)
            embeds[i, span], mask[i, span] = row, 1
            labels[i, span] = torch.tensor(targets[i], device=device)
        return embeds, mask, (labels if answers is not None else None)

    def loss(self, tokens: Sequence[Any], prompts: Sequence[Prompt],
             answers: Sequence[str], label_weight: float = 1.0) -> torch.Tensor:
        """Next-token cross-entropy on the answer ids only (the LM head runs on those alone),
        averaged over them with `label_weight` on the label (`Emotion: <word>.`) of each
        recognise answer: the reading is those few ids among some forty, and at weight 1 it
        can stay unlearnt (a label never read, even on training windows)."""
        embeds, mask, labels = self.embed(tokens, prompts, answers)
        base = self.llm.get_base_model() if hasattr(self.llm, "get_base_model") else self.llm
        hidden = base.get_decoder()(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        target = labels[:, 1:]
        keep = target != -100  # (B, L-1): positions whose next token is an answer token
        logits = base.get_output_embeddings()(hidden[:, :-1][keep])  # (N, V)
        losses = nn.functional.cross_entropy(logits.float(), target[keep], reduction="none")
        if label_weight == 1.0:
            return losses.mean()  # the plain mean, bit for bit as runs before the weight
        weights = torch.ones_like(target, dtype=torch.float32)
        openings = self._label_sequences()
        for row, prompt in enumerate(prompts):
            if prompt.task != "recognise":
                continue
            start = int(keep[row].nonzero()[0])  # the answer's first id
            answer = target[row, start:].tolist()
            for ids in openings:
                if answer[:len(ids)] == ids:
                    weights[row, start:start + len(ids)] = label_weight
                    break
        weights = weights[keep]
        return (losses * weights).sum() / weights.sum()

    def _label_sequences(self) -> list[list[int]]:
        """Ids of each label's answer opening, `Emotion: <word>.`."""
        prefix, words = answers.label_ids(self)
        return [prefix + ids for ids in words.values()]

    @torch.no_grad()
    def generate(self, tokens: Sequence[Any], prompts: Sequence[Prompt],
                 max_new_tokens: Optional[int] = None, stopping_criteria: Any = None,
                 temperature: float = 0.0, **generate_kwargs: Any) -> tuple[list[str], list[int]]:
        """Answers (KV cache; greedy, or sampled at `temperature` > 0 with the configured
        top_p from torch's global generator) and the number of new tokens of each."""
        embeds, mask, _ = self.embed(tokens, prompts)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": self.config.top_p,
                    "top_k": 0} if temperature > 0 else {"do_sample": False}
        out = self.llm.generate(
            inputs_embeds=embeds, attention_mask=mask, **sampling,
            max_new_tokens=max_new_tokens or self.config.max_new_tokens,
            eos_token_id=self.stop_ids, pad_token_id=self.stop_ids[0],
            stopping_criteria=stopping_criteria, **generate_kwargs)  # (B, N) new ids only
        texts, counts = [], []
        for row in out.tolist():
            ends = [k for k, t in enumerate(row) if t in self.stop_ids]
            row = row[:ends[0]] if ends else row
            counts.append(len(row) + int(bool(ends)))
            texts.append(self.tokenizer.decode(row, skip_special_tokens=True).strip())
        return texts, counts

    def zscores(self, cues: Any, content: Optional[str] = None) -> np.ndarray:
        """Cue z-scores of one window (dict or (7,) array) against the saved reference."""
        if self.reference is None:
            raise ValueError("this explainer has no cue reference; it cannot use cue hints")
        return self.reference.zscores(cues, content)

    def explain(self, tokens: Sequence[Any], label: Optional[str] = None,
                cues: Any = None, content: Optional[str] = None,
                deadline: Optional[float] = None, cancel: Optional[threading.Event] = None,
                seed: Optional[int] = None) -> answers.Answer:
        """Explain one window: `label` given -> read the movement, then explain the label (and
        name the reading when it differs); no label -> recognise. `cues`: (7,) or a mapping, or
        (3, 7) with the halves (`skeleton.cues.span_cues`), for the hint.

        `label` may be a dataset style, an hri label or an emotion word. Generation stops at
        `deadline` (time.monotonic) or when `cancel` is set, and then raises TimeoutError.
        A sampled answer's `seed` defaults to one drawn from the tokens: the same window gets
        the same words (a replayed bag, say), another window other ones.
        """
        z = None if cues is None else self.zscores(cues, content)
        style = None if label is None else to_style(label)
        stop = _Interrupt(deadline, cancel)
        batch = [np.asarray(t, dtype=np.float32) for t in tokens]
        batch = [t if t.ndim == 3 else t[None] for t in batch]
        if seed is None:
            seed = zlib.crc32(np.ascontiguousarray(batch[0]).tobytes())
        result = answers.answer_batch(self, batch, [style], [z], seed=seed,
                                      stopping_criteria=stop.as_criteria(), stop=stop)[0]
        if stop.fired:
            raise TimeoutError("explanation stopped: deadline passed or worker closing")
        return result


class _Interrupt:
    """Stop generation at a monotonic deadline or when an event is set; remember if it fired."""

    def __init__(self, deadline: Optional[float], cancel: Optional[threading.Event]) -> None:
        self.deadline, self.cancel, self.fired = deadline, cancel, False

    def __call__(self, input_ids: torch.Tensor, scores: Any = None, **kwargs: Any) -> torch.Tensor:
        late = self.deadline is not None and time.monotonic() > self.deadline
        self.fired = self.fired or late or (self.cancel is not None and self.cancel.is_set())
        return torch.full((input_ids.shape[0],), self.fired, dtype=torch.bool,
                          device=input_ids.device)

    def as_criteria(self) -> Any:
        """A transformers StoppingCriteriaList holding this check (None when it can never fire)."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        if self.deadline is None and self.cancel is None:
            return None
        outer = self

        class _Criteria(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):  # noqa: D102
                return outer(input_ids, scores)

        return StoppingCriteriaList([_Criteria()])
