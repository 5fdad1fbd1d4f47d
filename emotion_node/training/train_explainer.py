"""Train the LLM explainer on skeleton-language pairs built from the data (resumable, on CPU).

Every window of the dataset goes through the frozen skeleton tokenizer once (tokens cached in
the window table); its kinematic cues, as z-scores against neutral motion of the same action
(`CueReference`), pick the movement phrases of its target text, so every target claim is measured.
Stage 1 trains the projector alone (LLM and adapter frozen) to describe the movement of all
fifteen styles from tokens. Stage 2 trains projector + LoRA on question-answer prompts: recognise
the emotion and explain it (with and without the cue hint), and explain a given label.
Whole contents are held out (`--holdout`) for evaluation.

    emotion-node train-explainer --out models/default/explainer
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from emotion_node.model.explainer import Explainer, ExplainerConfig, Prompt
from emotion_node.model.explanations import (
    CueReference, answer_text, description_text, hint_text, salient_cues)
from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.llm import DEFAULT_LLM
from emotion_node.model.model_files import default_model_dir, read_config, tokenizer_fingerprint
from emotion_node.skeleton.cues import CUE_NAMES
from emotion_node.skeleton.dataset import DataRoots, emotion_clips, index_clips
from emotion_node.training.window_table import WindowTable, build_window_table

@dataclass
class ExplainerTrainConfig:
    """Every knob of one explainer run; stored in the explainer's config."""

    seed: int = 0
    holdout: tuple[str, ...] = ("bye", "walk-back")  # contents never trained on
    stage1_steps: int = 40
    stage2_steps: int = 180
    batch_size: int = 8
    stage1_lr: float = 2e-3
    projector_lr: float = 1e-3
    lora_lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 10
    # Shares of stage-2 prompts: recognise + hint, explain a label + hint, recognise from tokens.
    task_mix: tuple[float, ...] = (0.4, 0.4, 0.2)
    made_up_hints: float = 0.5   # share of hinted prompts whose hint (and claims) are made up
    other_labels: float = 0.5    # share of explain prompts asking for another label
    threads: int = 1   # one thread: on two shared cores OpenMP barriers stall under load
    save_every: int = 20
    explainer: dict = field(default_factory=dict)  # ExplainerConfig overrides

    def __post_init__(self) -> None:
        """Check values."""
        self.holdout = tuple(self.holdout)
        self.task_mix = tuple(float(p) for p in self.task_mix)
        if len(self.task_mix) != 3 or abs(sum(self.task_mix) - 1.0) > 1e-6:
            raise ValueError(f"task_mix must be three shares summing to 1, got {self.task_mix}")


def random_salient(rng: np.random.Generator) -> list[tuple[str, int]]:
    """A made-up set of 0-2 cue claims (distinct cues, random directions)."""
    count = int(rng.choice(3, p=(0.1, 0.3, 0.6)))
    cues = rng.choice(len(CUE_NAMES), size=count, replace=False)
    return [(CUE_NAMES[i], int(rng.choice((-1, 1)))) for i in cues]


def stage_examples(table: WindowTable, reference: CueReference, stage: int,
                   rows: np.ndarray, rng: np.random.Generator, cfg: "ExplainerTrainConfig"
                   ) -> tuple[list[Prompt], list[str]]:
    """Prompts and target texts for the given rows (stage 1: describe; 2: question-answer).

    Stage 2 teaches where each part of the answer comes from: with a hint, the movement claims
    follow the hint (sometimes a made-up one, so the tokens cannot stand in for it); the label
    of an `explain` prompt is echoed even when it is not the window's own (the node explains
    the label it publishes, right or wrong); the label of a `recognise` prompt is the true one.
    """
    prompts, answers = [], []
    for row in rows:
        style = str(table.styles[row])
        salient = salient_cues(reference.zscores(table.cues[row], str(table.contents[row])))
        if stage == 1:
            prompts.append(Prompt("describe"))
            answers.append(description_text(style, salient))
            continue
        kind = rng.choice(3, p=cfg.task_mix)
        if kind < 2 and rng.random() < cfg.made_up_hints:
            salient = random_salient(rng)
        hint = None if kind == 2 else hint_text(salient)
        if kind == 1:
            if rng.random() < cfg.other_labels:
                style = str(rng.choice(EMOTION_STYLES))
            prompts.append(Prompt("explain", style, hint))
        else:
            prompts.append(Prompt("recognise", None, hint))
        answers.append(answer_text(style, salient))
    return prompts, answers


def _lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 10%."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _stage_params(explainer: Explainer, stage: int, cfg: ExplainerTrainConfig) -> list[dict]:
    """Optimiser groups: projector only in stage 1; projector + LoRA in stage 2."""
    lora = [p for n, p in explainer.llm.named_parameters() if "lora_" in n]
    for p in lora:
        p.requires_grad_(stage == 2)
    if stage == 1:
        return [{"params": list(explainer.projector.parameters()), "lr": cfg.stage1_lr}]
    return [{"params": list(explainer.projector.parameters()), "lr": cfg.projector_lr},
            {"params": lora, "lr": cfg.lora_lr}]


# Settings a resumed run may change: how far it goes (a longer run continues the same one, its
# learning-rate schedule stretched from the resume point), and how it runs.
RESUMABLE_CHANGES = ("stage1_steps", "stage2_steps", "threads", "save_every")


def run_settings(cfg: ExplainerTrainConfig, config: ExplainerConfig,
                 table: WindowTable) -> dict[str, Any]:
    """What shapes a run and must not change when it resumes, flat: the training settings, the
    explainer's (LLM, projector, LoRA, prompt), and a digest of the windows it learns from."""
    settings = {k: v for k, v in asdict(cfg).items()
                if k not in RESUMABLE_CHANGES and k != "explainer"}
    settings.update({f"explainer.{k}": v for k, v in config.to_dict().items()
                     if k not in ("reference", "training")})
    digest = hashlib.sha1()
    for array in (table.temporal, table.spatial, table.semantic, table.cues):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update("\n".join(f"{c} {s}" for c, s in zip(table.contents, table.styles)).encode())
    settings["windows"] = f"{len(table)} windows, {digest.hexdigest()[:16]}"
    return settings


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class RunCheckpoint:
    """`run_dir/checkpoint.pt`: what a resumed run needs, beside the settings it was saved with."""

    path: Path
    settings: dict[str, Any]

    def load(self) -> Optional[dict]:
        """The saved state (None when there is none); ValueError naming every setting that
        differs from this run's, so a run is never continued with other settings."""
        if not self.path.is_file():
            return None
        state = torch.load(self.path, weights_only=False)
        saved = state.get("settings")
        if saved is None:
            raise ValueError(f"{self.path} records no settings (an older checkpoint), so a "
                             f"resume cannot be checked: start over with --fresh or another "
                             f"--run-dir")
        differing = [f"{k}: {_short(saved.get(k))} there, {_short(self.settings.get(k))} now"
                     for k in sorted(set(saved) | set(self.settings))
                     if saved.get(k) != self.settings.get(k)]
        if differing:
            raise ValueError(f"{self.path} was saved by a run with other settings ("
                             f"{'; '.join(differing)}): resume with the same settings, or start "
                             f"over with --fresh or another --run-dir")
        return state

    def save(self, explainer: Explainer, opt: torch.optim.Optimizer, stage: int, step: int,
             losses: dict) -> None:
        """Save what a resumed run needs and the settings (atomic replace)."""
        from peft import get_peft_model_state_dict

        state = {"projector": explainer.projector.state_dict(),
                 "lora": get_peft_model_state_dict(explainer.llm), "optimizer": opt.state_dict(),
                 "stage": stage, "step": step, "losses": losses, "settings": self.settings}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, self.path.with_suffix(".tmp"))
        self.path.with_suffix(".tmp").replace(self.path)


def _run_stage(explainer: Explainer, table: WindowTable, reference: CueReference,
               rows: np.ndarray, stage: int, cfg: ExplainerTrainConfig, ckpt: RunCheckpoint,
               resume: Optional[dict], losses: dict, progress: bool) -> None:
    """Train one stage from its start or from a checkpoint of it."""
    total = cfg.stage1_steps if stage == 1 else cfg.stage2_steps
    groups = _stage_params(explainer, stage, cfg)
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    start = 0
    if resume is not None and resume["stage"] == stage:
        opt.load_state_dict(resume["optimizer"])
        start = resume["step"]
    base_lrs = [g["lr"] for g in groups]
    explainer.llm.train()
    explainer.projector.train()
    bar = tqdm(range(start, total), desc=f"stage {stage}", initial=start, total=total,
               disable=not progress)
    for step in bar:
        rng = np.random.default_rng([cfg.seed, stage, step])  # resumable: no stored RNG state
        batch = rng.choice(rows, size=cfg.batch_size, replace=len(rows) < cfg.batch_size)
        prompts, answers = stage_examples(table, reference, stage, batch, rng, cfg)
        for group, lr in zip(opt.param_groups, base_lrs):
            group["lr"] = lr * _lr_factor(step, total, cfg.warmup_steps)
        loss = explainer.loss(table.tokens(batch), prompts, answers)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.setdefault(f"stage{stage}", []).append(round(float(loss.detach()), 4))
        bar.set_postfix(loss=f"{np.mean(losses[f'stage{stage}'][-10:]):.3f}")
        if (step + 1) % cfg.save_every == 0 or step + 1 == total:
            ckpt.save(explainer, opt, stage, step + 1, losses)
    explainer.llm.eval()
    explainer.projector.eval()


def fit_reference(table: WindowTable, train: np.ndarray) -> CueReference:
    """Neutral statistics: spread from training actions, a neutral mean for every action.

    A held-out action's neutral mean describes what "usual" means for it (like a calibration),
    not a label of its test windows; its spread never enters the fit.
    """
    ref = CueReference.fit(table.cues[train], table.contents[train], table.styles[train])
    every = CueReference.fit(table.cues, table.contents, table.styles)
    ref.content_means = every.content_means
    return ref


def train_explainer(table: WindowTable, cfg: ExplainerTrainConfig, run_dir: Path,
                    llm: Optional[str] = None, resume: bool = True,
                    progress: bool = True) -> tuple[Explainer, dict]:
    """Run both stages (resuming from `run_dir/checkpoint.pt`, which must have been saved with
    the same settings); return the explainer + history."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    unknown = sorted(set(cfg.holdout) - set(table.contents.tolist()))
    if unknown:
        raise ValueError(f"held-out contents {unknown} are not in the data")
    train = ~np.isin(table.contents, cfg.holdout)
    reference = fit_reference(table, train)
    overrides = dict(cfg.explainer)
    config = ExplainerConfig(llm=llm or overrides.pop("llm", DEFAULT_LLM),
                             token_dim=int(table.temporal.shape[-1]),
                             reference=reference.to_dict(), **overrides)
    ckpt = RunCheckpoint(Path(run_dir) / "checkpoint.pt", run_settings(cfg, config, table))
    state = ckpt.load() if resume else None  # before the LLM loads: a refusal comes at once
    explainer = Explainer.create(config)
    losses: dict = {}
    if state is not None:
        from peft import set_peft_model_state_dict
        explainer.projector.load_state_dict(state["projector"])
        set_peft_model_state_dict(explainer.llm, state["lora"])
        losses = state["losses"]
    all_rows = np.where(train)[0]
    emotion_rows = np.where(train & np.isin(table.styles, EMOTION_STYLES))[0]
    started = time.time()
    if state is None or state["stage"] == 1:
        _run_stage(explainer, table, reference, all_rows, 1, cfg, ckpt, state, losses,
                   progress)
    resume_2 = state if state is not None and state["stage"] == 2 else None
    _run_stage(explainer, table, reference, emotion_rows, 2, cfg, ckpt, resume_2, losses,
               progress)
    history = {"losses": losses, "seconds_this_run": round(time.time() - started, 1),
               "train_windows": int(train.sum()), "train_emotion_windows": len(emotion_rows),
               "holdout": list(cfg.holdout)}
    explainer.config.training = {"train_config": asdict(cfg), **{
        k: v for k, v in history.items() if k != "losses"},
        "final_loss": {k: float(np.mean(v[-10:])) for k, v in losses.items()}}
    return explainer, history


def train_fold_tokenizer(data_root: DataRoots, holdout: Sequence[str], out_dir: Path,
                         recipe_dir: Optional[Path] = None, threads: int = 2,
                         progress: bool = True) -> Path:
    """Train a tokenizer that never sees the held-out contents (for a clean LLM evaluation).

    The recipe (TrainConfig and architecture) is the one recorded in `recipe_dir/config.json`
    (default: the committed tokenizer), so the fold differs from it only by the held-out clips.
    """
    from emotion_node.training.data import load_records
    from emotion_node.model.tokenizer import TokenizerConfig, save_tokenizer
    from emotion_node.training.train_tokenizer import TrainConfig, train_tokenizer

    recorded = read_config(Path(recipe_dir or default_model_dir()))
    training = recorded.pop("training", {})
    if "train_config" not in training:
        raise ValueError(f"{recipe_dir or default_model_dir()} records no train_config")
    cfg = TrainConfig.from_dict(training["train_config"], TokenizerConfig.from_dict(recorded))
    cfg.threads = threads
    clips = index_clips(data_root)
    shared = sorted({clips[i].content for i in emotion_clips(clips, cfg.tokenizer.labels)})
    unknown = sorted(set(holdout) - set(shared))
    if unknown:
        raise ValueError(f"held-out contents {unknown} are not among {shared}")
    kept = [c for c in clips if c.content not in holdout]  # in every dataset
    records = load_records(kept)
    emotion = emotion_clips(kept, cfg.tokenizer.labels)
    model, _ = train_tokenizer(records, emotion, range(len(records)), cfg, progress=progress)
    meta = {"train_config": cfg.to_dict(), "holdout": list(holdout),
            "contents": [c for c in shared if c not in holdout]}
    config = TokenizerConfig.from_dict({**cfg.tokenizer.to_dict(), "training": meta})
    return save_tokenizer(model, config, out_dir)


def train_and_save(out: Path, cfg: ExplainerTrainConfig, tokenizer_dir: Optional[Path] = None,
                   data_root: DataRoots = None, run_dir: Path = Path("runs/explainer"),
                   llm: Optional[str] = None, resume: bool = True,
                   progress: bool = True) -> tuple[dict, str]:
    """Train an explainer on the tokens of `tokenizer_dir` (default: the package's tokenizer)
    and save it into `out`, recording the tokenizer's fingerprint; return the run's history and
    a warning ('' if none) when the tokenizer files changed while it trained."""
    tokenizer_dir = tokenizer_dir or default_model_dir()
    fingerprint = tokenizer_fingerprint(tokenizer_dir)  # before: files may change meanwhile
    table = build_window_table(tokenizer_dir, data_root, progress=progress)
    explainer, history = train_explainer(table, cfg, run_dir, llm, resume=resume,
                                         progress=progress)
    explainer.config.training["tokenizer"] = fingerprint
    warning = ""
    if tokenizer_fingerprint(tokenizer_dir) != fingerprint:
        warning = (f"{tokenizer_dir} changed during training; this explainer matches the "
                   f"tokenizer {fingerprint}")
    explainer.save(out)
    return history, warning
