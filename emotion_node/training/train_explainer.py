"""Train the LLM explainer on skeleton-language pairs built from the data (resumable, on CPU).

Every window of both datasets goes through the frozen skeleton tokenizer once (tokens cached in
the window table); its kinematic cues, as z-scores against neutral motion of the same action in
the same dataset (`CueReference`), pick the movement claims of its target text, so every target
claim is measured. Targets are composed (`wording.compose_answer`) from several phrasings per
cue, span, connective and general statement, coherent with the label's movement signature.
Stage 1 trains the projector alone (LLM and adapter frozen) to describe the movement of every
style from tokens. Stage 2 trains projector + LoRA on question-answer prompts: recognise the
emotion and explain it (with and without the cue hint), and explain a given label, naming a
second reading when the prompt gives one. Whole actions are held out (`--holdout`, by name in
every dataset) for evaluation.

    emotion-node train-explainer --out models/default/explainer
"""
from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from emotion_node.model.explainer import Explainer, ExplainerConfig, Prompt
from emotion_node.model.explanations import CueReference
from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.llm import DEFAULT_LLM
from emotion_node.model.model_files import default_model_dir, read_config, tokenizer_fingerprint
from emotion_node.model.wording import (
    MAX_HINTED, SPANS, Claim, compose_answer, description_text, hint_words, salient_claims,
    split_by_label)
from emotion_node.skeleton.cues import CUE_NAMES, SPAN_STABLE_CUES
from emotion_node.skeleton.dataset import DATASETS, DataRoots, emotion_clips, index_clips
from emotion_node.training.window_table import WindowTable, build_window_table

# Held out by default: two Dataset 1 actions and Dataset 2's waving (both hands), 600 emotion
# windows; the explainer and its evaluation's fold tokenizer never see them.
DEFAULT_HOLDOUT = ("bye", "walk-back", "wave-left-hand", "wave-right-hand")


@dataclass
class ExplainerTrainConfig:
    """Every knob of one explainer run; stored in the explainer's config."""

    seed: int = 0
    holdout: tuple[str, ...] = DEFAULT_HOLDOUT  # actions never trained on, in every dataset
    stage1_steps: int = 40
    stage2_steps: int = 200
    batch_size: int = 8
    stage1_lr: float = 2e-3
    projector_lr: float = 1e-3
    lora_lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 10
    # Shares of stage-2 prompts: recognise + hint, explain a label + hint (the node's request),
    # recognise from tokens.
    task_mix: tuple[float, ...] = (0.3, 0.6, 0.1)
    made_up_hints: float = 0.5   # share of hinted prompts whose hint (and claims) are made up
    other_labels: float = 0.5    # share of explain prompts asking for another label
    second_readings: float = 0.4  # share of explain prompts naming a differing second reading
    # Loss weight of a recognise answer's label ids (the other ids: 1). At 1 the reading was
    # left to the seed: one fold run of three never answered tired (EVALUATION.md, training).
    label_weight: float = 10.0
    threads: int = 1   # one thread: on two shared cores OpenMP barriers stall under load
    save_every: int = 20
    explainer: dict = field(default_factory=dict)  # ExplainerConfig overrides

    def __post_init__(self) -> None:
        """Check values."""
        self.holdout = tuple(self.holdout)
        self.task_mix = tuple(float(p) for p in self.task_mix)
        if len(self.task_mix) != 3 or abs(sum(self.task_mix) - 1.0) > 1e-6:
            raise ValueError(f"task_mix must be three shares summing to 1, got {self.task_mix}")
        if not self.label_weight > 0:
            raise ValueError(f"label_weight must be > 0, got {self.label_weight}")


def random_claims(rng: np.random.Generator) -> list[Claim]:
    """A made-up set of 0-4 claims (distinct cues, random directions and spans)."""
    count = int(rng.choice(5, p=(0.1, 0.25, 0.3, 0.2, 0.15)))
    out = []
    for i in rng.choice(len(CUE_NAMES), size=count, replace=False):
        cue = CUE_NAMES[i]
        span = str(rng.choice(SPANS, p=(0.4, 0.3, 0.15, 0.15))) if cue in SPAN_STABLE_CUES \
            else "window"
        out.append(Claim(cue, int(rng.choice((-1, 1))), span))
    return out


def _second_reading(label: str, truth: str, rng: np.random.Generator,
                    cfg: "ExplainerTrainConfig") -> Optional[str]:
    """The differing reading an explain prompt names (None for most): the window's own
    emotion when the asked label is another, else any other label."""
    if rng.random() >= cfg.second_readings:
        return None
    if truth != label and rng.random() < 0.7:
        return truth
    return str(rng.choice([s for s in EMOTION_STYLES if s != label]))


def stage_examples(table: WindowTable, reference: CueReference, stage: int,
                   rows: np.ndarray, rng: np.random.Generator, cfg: "ExplainerTrainConfig"
                   ) -> tuple[list[Prompt], list[str]]:
    """Prompts and target texts for the given rows (stage 1: describe; 2: question-answer).

    Stage 2 teaches where each part of the answer comes from: with a hint, the movement claims
    follow the hint (sometimes a made-up one, so the tokens cannot stand in for it), split by
    the label's signature into reasons and contrary cues; the label of an `explain` prompt is
    echoed even when it is not the window's own (the node explains the label it publishes,
    right or wrong) and a second reading the prompt names is repeated; the label of a
    `recognise` prompt is the true one.
    """
    prompts, answers = [], []
    keys = table.action_keys()
    for row in rows:
        claims = salient_claims(reference.zscores(table.span_cues(row), str(keys[row])))
        if stage == 1:
            prompts.append(Prompt("describe"))
            answers.append(description_text(str(table.styles[row]), claims, rng))
            continue
        truth = str(table.emotions[row])
        kind = rng.choice(3, p=cfg.task_mix)
        if kind < 2 and rng.random() < cfg.made_up_hints:
            claims = random_claims(rng)
        if kind == 1:
            label = str(rng.choice(EMOTION_STYLES)) if rng.random() < cfg.other_labels else truth
            reading = _second_reading(label, truth, rng, cfg)
            fits, against = split_by_label(label, claims)
            prompts.append(Prompt("explain", label, hint_words(fits), hint_words(against),
                                  reading))
            answers.append(compose_answer(label, fits, against, rng, reading))
        else:
            hinted = claims[:MAX_HINTED]
            prompts.append(Prompt("recognise", None, None if kind == 2 else hint_words(hinted)))
            answers.append(compose_answer(truth, *split_by_label(truth, hinted), rng))
    return prompts, answers


def draw_weights(table: WindowTable, rows: np.ndarray, stage: int) -> np.ndarray:
    """Sampling weights of `rows`: every (dataset, style) alike in stage 1, every emotion alike
    in stage 2 (Dataset 2's many neutral and tired windows widen those two, not their share)."""
    groups = [f"{d}:{s}" for d, s in zip(table.datasets[rows], table.styles[rows])] \
        if stage == 1 else list(table.emotions[rows])
    counts = Counter(groups)
    weights = np.array([1.0 / counts[g] for g in groups])
    return weights / weights.sum()


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
# Explainer settings of generation only: training never reads them.
GENERATION_SETTINGS = ("max_new_tokens", "temperature", "top_p")


def run_settings(cfg: ExplainerTrainConfig, config: ExplainerConfig,
                 table: WindowTable) -> dict[str, Any]:
    """What shapes a run and must not change when it resumes, flat: the training settings, the
    explainer's (LLM, projector, LoRA, prompt), and a digest of the windows it learns from."""
    settings = {k: v for k, v in asdict(cfg).items()
                if k not in RESUMABLE_CHANGES and k != "explainer"}
    settings.update({f"explainer.{k}": v for k, v in config.to_dict().items()
                     if k not in ("reference", "training") + GENERATION_SETTINGS})
    digest = hashlib.sha1()
    for array in (table.temporal, table.spatial, table.semantic, table.cues):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update("\n".join(f"{d} {c} {s} {e}" for d, c, s, e in zip(
        table.datasets, table.contents, table.styles, table.emotions)).encode())
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
    weights = draw_weights(table, rows, stage)
    for step in bar:
        rng = np.random.default_rng([cfg.seed, stage, step])  # resumable: no stored RNG state
        batch = rng.choice(rows, size=cfg.batch_size, p=weights)
        prompts, answers = stage_examples(table, reference, stage, batch, rng, cfg)
        for group, lr in zip(opt.param_groups, base_lrs):
            group["lr"] = lr * _lr_factor(step, total, cfg.warmup_steps)
        loss = explainer.loss(table.tokens(batch), prompts, answers, cfg.label_weight)
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
    """Neutral statistics: spread from training actions, a neutral mean for every action of
    each dataset (keyed `dataset:action`: the two studios' neutral motion differs).

    A held-out action's neutral mean describes what "usual" means for it (like a calibration),
    not a label of its test windows; its spread never enters the fit.
    """
    keys = table.action_keys()
    groups = np.array([f"{d}:{e}" for d, e in zip(table.datasets, table.emotions)])
    ref = CueReference.fit(table.cues[train], keys[train], table.emotions[train],
                           window_groups=groups[train])
    every = CueReference.fit(table.cues, keys, table.emotions, window_groups=groups)
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
    emotion_rows = np.where(train & np.isin(table.emotions, EMOTION_STYLES))[0]
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

    The recipe (TrainConfig and architecture) and the datasets are those recorded in
    `recipe_dir/config.json` (default: the committed tokenizer), so the fold differs from it
    only by the held-out clips.
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
    datasets = recorded_datasets(training)
    every = index_clips(data_root)
    clips = [c for c in every if c.dataset in datasets]
    if not clips:
        raise ValueError(f"no clips of {datasets}, the datasets the recipe was trained on")
    shared = sorted({clips[i].content for i in emotion_clips(clips, cfg.tokenizer.labels)})
    actions = sorted({every[i].content for i in emotion_clips(every, cfg.tokenizer.labels)})
    unknown = sorted(set(holdout) - set(actions))
    if unknown:  # an action only another dataset has is held out by not training on it
        raise ValueError(f"held-out contents {unknown} are not among {actions}")
    kept = [c for c in clips if c.content not in holdout]  # in every dataset
    records = load_records(kept)
    emotion = emotion_clips(kept, cfg.tokenizer.labels)
    model, _ = train_tokenizer(records, emotion, range(len(records)), cfg, progress=progress)
    meta = {"train_config": cfg.to_dict(), "holdout": list(holdout),
            "contents": [c for c in shared if c not in holdout]}
    config = TokenizerConfig.from_dict({**cfg.tokenizer.to_dict(), "training": meta})
    return save_tokenizer(model, config, out_dir)


def recorded_datasets(training: dict) -> list[str]:
    """Keys of the datasets a tokenizer was trained on, from its recorded training metadata
    (`datasets`: their citations; a recipe recorded before Dataset 2 names only Dataset 1)."""
    if "datasets" not in training:
        return [DATASETS["dataset-1"].key]
    by_citation = {d.citation: d.key for d in DATASETS.values()}
    unknown = [c for c in training["datasets"] if c not in by_citation]
    if unknown:
        raise ValueError(f"the recipe names datasets this package does not know: {unknown}")
    return [by_citation[c] for c in training["datasets"]]


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
