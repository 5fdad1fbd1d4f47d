"""Train the skeleton tokenizer: text-aligned pre-training on every style, then the emotion head.

Stage 1 pulls the pooled semantic tokens of a window towards the all-MiniLM-L6-v2 embedding of
its description (style + measured cues) with a CLIP-style loss, over all fifteen styles. Stage 2
trains the classifier on the emotion styles of the actions every style shares, with styles and
clips drawn uniformly (so `normal`, which alone has many extra actions, cannot become a sink),
helped by two training-only heads: one over all fifteen styles, and a gradient-reversed critic
that tries to name the action, which pushes the tokens towards action-independent features.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Collection, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from emotion_node.training.data import (
    AugmentConfig, BalancedSampler, ClipRecord, WindowPool, build_pool, load_records,
    raw_eval_windows)
from emotion_node.training.descriptions import cue_levels, describe, neutral_stats
from emotion_node.training.text_encoder import TEXT_DIM, embed_texts
from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer
from emotion_node.skeleton.cues import cues_batch
from emotion_node.skeleton.dataset import DATASETS, DataRoots, emotion_clips, index_clips
from emotion_node.skeleton.preprocess import PreprocessConfig


@dataclass
class TrainConfig:
    """Every knob of one training run; stored in the model's config.json."""

    seed: int = 0
    align: bool = True                # text-aligned pre-training (False: the ablation)
    pretrain_steps: int = 600
    finetune_steps: int = 800
    batch_size: int = 64
    lr: float = 2e-3
    finetune_lr: float = 1e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    finetune_align_weight: float = 0.0  # keep the text loss on during fine-tuning
    style_weight: float = 1.0           # fine-tune also on all 15 styles (auxiliary head)
    adversary_weight: float = 1.0       # gradient-reversed action critic (action invariance)
    # False: clips of a dataset with one action only (Emotion-Gait's gaits) stay out of the
    # critic: it tells them from every other action by their joint set and root lock alone, and
    # reversing that pulls every token towards what hides them. Out (the default): Bandai's
    # held-out actions +3.2 (Dataset 1) and +2.4 points (Dataset 2, pooled p = 0.002),
    # Emotion-Gait's held-out walkers +1.2, over three seeds (EVALUATION.md).
    adversary_single_action: bool = False
    balance_actions: bool = False       # fine-tuning draws an action family, then a clip
    # Fine-tuning draws a (dataset, style) stratum, then a clip. None: every stratum alike.
    # A share: emotion strata get this much of the draws, each emotion label the same, split
    # evenly over the datasets that have it (so Dataset 2's many normal and tired clips count
    # as much as Dataset 1's few); expressive strata share the rest.
    emotion_share: Optional[float] = None
    # Fine-tuning draws of each stratum of a dataset, times this (dataset key -> factor; a
    # missing key is 1). Emotion-Gait at 2 or 4 gained its walkers 4 to 5 points but cost
    # Dataset 2's held-out walks 11 to 25 (EVALUATION.md, recipes tried): even by default.
    dataset_weights: Dict[str, float] = field(default_factory=dict)
    # True: clips of a dataset whose annotators chose among fewer labels (Emotion-Gait) train
    # only those labels. Off by default: held-out walkers were then read as tired or proud
    # (7-way 21.6 % against 52.0 % with every label trained, EVALUATION.md).
    partial_labels: bool = False
    weight_average: float = 0.995       # > 0: the saved model is this EMA of fine-tuning's weights
    # > 0: after fine-tuning, this many more steps on the clips of `final_datasets` only, at
    # `final_lr` (the joint model fine-tuned last on many people's movement). Off by default:
    # EVALUATION.md, recipes tried on Emotion-Gait.
    final_steps: int = 0
    final_datasets: List[str] = field(default_factory=lambda: ["emotion-gait"])
    final_lr: float = 5e-4
    align_temperature: float = 0.07     # initial CLIP temperature (learned afterwards)
    cue_threshold: float = 1.0          # |z| vs neutral above which a cue is put into words
    cue_stride_s: float = 0.5
    pool_per_clip: int = 96             # pre-cut augmented windows per clip
    threads: int = 2
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict:
        """JSON-ready dict (the tokenizer config is stored on its own)."""
        out = asdict(self)
        out.pop("tokenizer")
        out["augment"] = self.augment.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict, tokenizer: Optional[TokenizerConfig] = None) -> "TrainConfig":
        """Inverse of `to_dict`."""
        data = dict(data)
        if "augment" in data:
            data["augment"] = AugmentConfig.from_dict(data["augment"])
        return cls(tokenizer=tokenizer or TokenizerConfig(), **data)


# Per record index: (window end times (W,), cues (W, 7)), as `clip_cues` returns them; a list
# over all records or a dict over some.
CueWindows = Union[Sequence[Tuple[np.ndarray, np.ndarray]],
                   Mapping[int, Tuple[np.ndarray, np.ndarray]]]


@dataclass
class TextTable:
    """Descriptions of the cue windows of the pre-training clips, and their embeddings."""

    texts: List[str]
    embeddings: np.ndarray                # (U, 384) unit vectors
    ends: Dict[int, np.ndarray]           # record index -> (W,) window end times (s)
    ids: Dict[int, np.ndarray]            # record index -> (W,) index into texts

    def lookup(self, clip_index: np.ndarray, t_end: np.ndarray) -> np.ndarray:
        """Text id of the cue window nearest to each (record, end time)."""
        out = np.zeros(len(clip_index), np.int64)
        for b, (i, t) in enumerate(zip(clip_index, t_end)):
            out[b] = self.ids[int(i)][int(np.argmin(np.abs(self.ends[int(i)] - t)))]
        return out


def clip_cues(records: Sequence[ClipRecord], config: PreprocessConfig,
              stride_s: float = 0.5) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Per clip: window end times (W,) and kinematic cues (W, 7) of its sliding raw windows."""
    out = []
    for record in records:
        windows, masks, ends = raw_eval_windows(record, config, stride_s)
        out.append((ends, cues_batch(windows, masks, config.fps)))
    return out


def style_strata() -> List[Tuple[str, str]]:
    """Every (dataset, style) pair, Dataset 1's first in its table order: sampling strata."""
    return [(key, style) for key, spec in DATASETS.items() for style in spec.styles]


def stratum(info) -> int:
    """The sampling stratum of a clip: its (dataset, style) pair's index."""
    return style_strata().index((info.dataset, info.style))


def neutral_key(info) -> str:
    """Cue statistics are per dataset and action: one studio's neutral walk is calmer than the
    other's, so 'moves slowly' is said against the same recording's neutral."""
    return f"{info.dataset}:{info.content}"


def build_text_table(records: Sequence[ClipRecord], cues: CueWindows, use: Sequence[int],
                     threshold: float = 1.0) -> TextTable:
    """Describe the cue windows of records `use` against their own neutral statistics."""
    use = [int(i) for i in use]
    stats = neutral_stats([cues[i][1] for i in use], [neutral_key(records[i].info) for i in use],
                          ["normal" if records[i].info.emotion == "normal" else
                           records[i].info.style for i in use])
    index: Dict[str, int] = {}
    ids = {}
    for i in use:
        info = records[i].info
        ids[i] = np.array([index.setdefault(
            describe(info.style, cue_levels(c, neutral_key(info), stats, threshold)),
            len(index)) for c in cues[i][1]], np.int64)
    texts = list(index)
    return TextTable(texts, embed_texts(texts), {i: cues[i][0] for i in use}, ids)


class AlignHead(nn.Module):
    """Projects pooled semantic tokens into the text embedding space (training only)."""

    def __init__(self, token_dim: int, temperature: float) -> None:
        super().__init__()
        self.proj = nn.Linear(token_dim, TEXT_DIM)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def forward(self, semantic: torch.Tensor) -> torch.Tensor:
        """(B, K, D) -> (B, 384) unit vectors."""
        return F.normalize(self.proj(semantic.mean(dim=1)), dim=-1)


def clip_loss(motion: torch.Tensor, texts: torch.Tensor, target: torch.Tensor,
              scale: torch.Tensor) -> torch.Tensor:
    """Symmetric CLIP loss where several windows may share one text (multi-positive)."""
    logits = scale.exp().clamp(max=100.0) * motion @ texts.T  # (B, U)
    motion_to_text = F.cross_entropy(logits, target)
    positive = F.one_hot(target, texts.shape[0]).T.bool()  # (U, B)
    log_p = torch.log_softmax(logits.T, dim=1).masked_fill(~positive, float("-inf"))
    text_to_motion = -torch.logsumexp(log_p, dim=1).mean()
    return 0.5 * (motion_to_text + text_to_motion)


def _optimizer(params, lr: float, steps: int, weight_decay: float):
    """AdamW with a short linear warm-up and cosine decay."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (
        1.0 + math.cos(math.pi * min(1.0, s / max(1, steps)))))
    return opt, sched


def _align_step(model: SkeletonTokenizer, head: AlignHead, table: TextTable, batch,
                text_emb: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward a batch; return its logits, alignment loss and semantic tokens."""
    x, mask, clip_index, ends = batch
    logits, _, _, semantic = model(torch.from_numpy(x), torch.from_numpy(mask))
    unique, target = np.unique(table.lookup(clip_index, ends), return_inverse=True)
    loss = clip_loss(head(semantic), text_emb[torch.from_numpy(unique)],
                     torch.from_numpy(target.reshape(-1)), head.log_scale)
    return logits, loss, semantic


class WeightAverage:
    """Exponential moving average of a model's weights and buffers over training steps: the
    averaged model sits in a flatter spot than the last step's, and varies less between seeds."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight-average decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold in the model's current weights."""
        for key, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                self.state[key].mul_(self.decay).add_(value.detach(), alpha=1.0 - self.decay)
            else:
                self.state[key].copy_(value)

    def copy_to(self, model: nn.Module) -> None:
        """Load the averaged weights into the model."""
        model.load_state_dict(self.state)


def _run(model: SkeletonTokenizer, params: list, sampler: BalancedSampler, steps: int, lr: float,
         cfg: TrainConfig, loss_fn, desc: str, progress: bool,
         average: Optional[WeightAverage] = None) -> List[float]:
    """The optimisation loop shared by both stages; return the per-step losses."""
    opt, sched = _optimizer(params, lr, steps, cfg.weight_decay)
    model.train()
    losses: List[float] = []
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        loss = loss_fn(sampler.batch(cfg.batch_size))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if average is not None:
            average.update(model)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    if average is not None:
        average.copy_to(model)
    return losses


def pretrain(model: SkeletonTokenizer, head: AlignHead, sampler: BalancedSampler,
             table: TextTable, cfg: TrainConfig, progress: bool = True) -> List[float]:
    """Stage 1: contrastive alignment of semantic tokens with descriptions; return losses."""
    text_emb = torch.from_numpy(table.embeddings)
    params = list(model.parameters()) + list(head.parameters())
    return _run(model, params, sampler, cfg.pretrain_steps, cfg.lr, cfg,
                lambda batch: _align_step(model, head, table, batch, text_emb)[1],
                "align", progress)


class _Reverse(torch.autograd.Function):
    """Identity forward, negated gradient backward (the encoder learns to fool the critic)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return -grad


class AuxHeads(nn.Module):
    """Training-only heads of stage 2: every style of each dataset (one head per dataset, its
    own vocabulary), and an action critic over the union of the datasets' actions."""

    def __init__(self, width: int, num_contents: int, datasets: Sequence[str]) -> None:
        super().__init__()
        self.style = nn.ModuleDict({key: nn.Linear(width, len(DATASETS[key].styles))
                                    for key in datasets})
        self.content = nn.Sequential(nn.Linear(width, 64), nn.ReLU(),
                                     nn.Linear(64, max(1, num_contents)))

    def style_loss(self, flat: torch.Tensor, infos: Sequence) -> torch.Tensor:
        """Mean cross-entropy of every window on its own dataset's style head."""
        keys = [info.dataset for info in infos]
        if len(set(keys)) == 1:
            head = self.style[keys[0]]
            target = torch.tensor([head_index(info) for info in infos])
            return F.cross_entropy(head(flat), target)
        total = flat.new_zeros(())
        for key in sorted(set(keys)):
            rows = [b for b, k in enumerate(keys) if k == key]
            target = torch.tensor([head_index(infos[b]) for b in rows])
            total = total + F.cross_entropy(self.style[key](flat[rows]), target, reduction="sum")
        return total / len(infos)


def head_index(info) -> int:
    """A clip's class on its dataset's style head."""
    return DATASETS[info.dataset].styles.index(info.style)


def allowed_labels(infos: Sequence, labels: Sequence[str]) -> Optional[torch.Tensor]:
    """(B, C) which labels each clip's dataset can have; None when every clip can have all
    (then the plain cross-entropy runs, bit for bit as before partial labels existed)."""
    if not any(DATASETS[info.dataset].partial_labels for info in infos):
        return None
    rows = [[not DATASETS[i.dataset].partial_labels or label in DATASETS[i.dataset].label_set
             for label in labels] for i in infos]
    return torch.tensor(rows, dtype=torch.bool)


def partial_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                          allowed: Optional[torch.Tensor], smoothing: float) -> torch.Tensor:
    """Cross-entropy with label smoothing over each row's allowed labels only: a gait labelled
    among four never pushes down the labels it could not have had."""
    if allowed is None:
        return F.cross_entropy(logits, target, label_smoothing=smoothing)
    log_p = logits.masked_fill(~allowed, float("-inf")).log_softmax(dim=-1)  # (B, C)
    nll = -log_p.gather(1, target[:, None])[:, 0]
    uniform = -log_p.masked_fill(~allowed, 0.0).sum(dim=-1) / allowed.sum(dim=-1)
    return ((1.0 - smoothing) * nll + smoothing * uniform).mean()


def critic_contents(records: Sequence, ids: Collection[int],
                    single_action: bool) -> List[str]:
    """The actions the gradient-reversed critic tells apart: those of the training clips
    `ids`, less (unless `single_action`) those of datasets that have only one action."""
    actions: Dict[str, set] = {}
    for i in ids:
        actions.setdefault(records[i].info.dataset, set()).add(records[i].info.content)
    return sorted({a for found in actions.values() if single_action or len(found) > 1
                   for a in found})


def finetune(model: SkeletonTokenizer, sampler: BalancedSampler, records: Sequence[ClipRecord],
             targets: Dict[int, int], cfg: TrainConfig, head: Optional[AlignHead] = None,
             table: Optional[TextTable] = None, progress: bool = True) -> List[float]:
    """Stage 2: class-balanced cross-entropy on the emotion styles; return the CE losses.

    `targets` maps record index -> emotion class, or -1 for clips of other styles (used only by
    the all-style head). Optional auxiliary terms: the text loss, all 15 styles, and a
    gradient-reversed critic that tries to tell the action.
    """
    aligned: Optional[Tuple[AlignHead, TextTable]] = None  # the text loss stays on
    if head is not None and table is not None and cfg.finetune_align_weight > 0 and \
            all(i in table.ids for i in targets):
        aligned = (head, table)
    text_emb = torch.from_numpy(aligned[1].embeddings) if aligned is not None else None
    contents = critic_contents(records, targets, cfg.adversary_single_action)
    datasets = [key for key in DATASETS if any(records[i].info.dataset == key for i in targets)]
    aux = AuxHeads(cfg.tokenizer.num_semantic_tokens * cfg.tokenizer.token_dim, len(contents),
                   datasets)
    params = list(model.parameters()) + list(aux.parameters()) + (
        list(aligned[0].parameters()) if aligned is not None else [])
    ce_log: List[float] = []

    def loss_fn(batch) -> torch.Tensor:
        clips = [int(i) for i in batch[2]]
        if aligned is not None and text_emb is not None:
            logits, align, semantic = _align_step(model, *aligned, batch, text_emb)
        else:
            logits, _, _, semantic = model(torch.from_numpy(batch[0]), torch.from_numpy(batch[1]))
            align = torch.zeros(())
        y = torch.tensor([targets[i] for i in clips])
        keep = y >= 0  # only emotion-style windows teach the emotion head
        allowed = (allowed_labels([records[i].info for i in clips], cfg.tokenizer.labels)
                   if cfg.partial_labels else None)
        ce = (partial_cross_entropy(logits[keep], y[keep],
                                    None if allowed is None else allowed[keep],
                                    cfg.label_smoothing)
              if bool(keep.any()) else logits.sum() * 0.0)
        ce_log.append(ce.item())
        loss = ce + cfg.finetune_align_weight * align
        flat = semantic.flatten(1)
        if cfg.style_weight > 0:
            loss = loss + cfg.style_weight * aux.style_loss(flat, [records[i].info for i in clips])
        rows = [b for b, i in enumerate(clips) if records[i].info.content in contents]
        if cfg.adversary_weight > 0 and len(contents) > 1 and rows:
            action = torch.tensor([contents.index(records[clips[b]].info.content) for b in rows])
            if len(rows) == len(clips):
                critic_loss = F.cross_entropy(aux.content(_Reverse.apply(flat)), action)
            else:  # the left-out clips count as zero, so a batch's weight stays the same
                critic_loss = F.cross_entropy(aux.content(_Reverse.apply(flat[rows])), action,
                                              reduction="sum") / len(clips)
            loss = loss + cfg.adversary_weight * critic_loss
        return loss

    average = WeightAverage(model, cfg.weight_average) if cfg.weight_average > 0 else None
    _run(model, params, sampler, cfg.finetune_steps, cfg.finetune_lr, cfg, loss_fn, "classify",
         progress, average)
    return ce_log


def train_tokenizer(records: Sequence[ClipRecord], finetune_ids: Sequence[int],
                    pretrain_ids: Sequence[int], cfg: TrainConfig,
                    cues: Optional[CueWindows] = None, pool: Optional[WindowPool] = None,
                    progress: bool = True) -> Tuple[SkeletonTokenizer, dict]:
    """Train one tokenizer on `records[finetune_ids]` (emotion labels) after text-aligned
    pre-training on `records[pretrain_ids]` (any style).

    `cues` (from `clip_cues`, one per record) and `pool` (from `build_pool` over all records)
    may be passed to share them between runs. Returns the model in eval mode and its losses.
    """
    labels = cfg.tokenizer.labels
    unknown = sorted({str(records[i].info.emotion) for i in finetune_ids} - set(labels))
    if unknown:
        raise ValueError(f"fine-tuning clips have emotions {unknown} outside the labels")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    if pool is None:
        used = sorted(set(finetune_ids) | set(pretrain_ids))
        sub = build_pool([records[i] for i in used], cfg.tokenizer.preprocess, cfg.augment,
                         cfg.pool_per_clip, cfg.seed)
        pool = WindowPool(sub.x, sub.mask, np.array(used)[sub.clip], sub.t_end)
    model = SkeletonTokenizer(cfg.tokenizer)
    head = AlignHead(cfg.tokenizer.token_dim, cfg.align_temperature)
    history: dict = {"align": [], "classify": []}
    table = None
    if cfg.align and cfg.pretrain_steps > 0:
        if cues is None:
            cues = {i: c for i, c in zip(pretrain_ids, clip_cues(
                [records[i] for i in pretrain_ids], cfg.tokenizer.preprocess, cfg.cue_stride_s))}
        table = build_text_table(records, cues, pretrain_ids, cfg.cue_threshold)
        history["texts"] = len(table.texts)
        classes = [stratum(records[i].info) for i in pretrain_ids]
        sampler = BalancedSampler(pool, pretrain_ids, classes, cfg.augment, cfg.seed)
        history["align"] = pretrain(model, head, sampler, table, cfg, progress)
    targets = {int(i): labels.index(records[i].info.emotion) for i in finetune_ids}
    classes = list(targets.values())
    if cfg.style_weight > 0:  # every style of the fine-tuning actions, balanced over styles
        actions = {(records[i].info.dataset, records[i].info.content) for i in finetune_ids}
        for i in pretrain_ids:
            info = records[i].info
            if (info.dataset, info.content) in actions and int(i) not in targets:
                targets[int(i)] = -1
        classes = [stratum(records[i].info) for i in targets]
    groups = [action_family(records[i].info.content) for i in targets] \
        if cfg.balance_actions else None
    weights = None
    if cfg.emotion_share is not None and cfg.style_weight > 0:
        weights = stratum_weights([records[i].info for i in targets], cfg.emotion_share)
    if cfg.dataset_weights and cfg.style_weight > 0:
        weights = {s: (1.0 if weights is None else weights[s])
                   * cfg.dataset_weights.get(info.dataset, 1.0)
                   for s, info in {stratum(records[i].info): records[i].info
                                   for i in targets}.items()}
    sampler = BalancedSampler(pool, list(targets), classes, cfg.augment, cfg.seed + 1, groups,
                              weights)
    history["classify"] = finetune(model, sampler, records, targets, cfg, head, table, progress)
    last = [i for i in targets if records[i].info.dataset in cfg.final_datasets]
    if cfg.final_steps > 0 and last:
        final = BalancedSampler(pool, last, [stratum(records[i].info) for i in last],
                                cfg.augment, cfg.seed + 2)
        history["final"] = finetune(model, final, records, {i: targets[i] for i in last},
                                    replace(cfg, finetune_steps=cfg.final_steps,
                                            finetune_lr=cfg.final_lr), head, table, progress)
    return model.eval(), history


def stratum_weights(infos: Sequence, emotion_share: float) -> Dict[int, float]:
    """Draw weights of the fine-tuning strata (see TrainConfig.emotion_share)."""
    if not 0.0 < emotion_share <= 1.0:
        raise ValueError(f"emotion_share must be in (0, 1], got {emotion_share}")
    strata = {stratum(info): info for info in infos}
    emotional = {s: i.emotion for s, i in strata.items() if i.emotion is not None}
    expressive = [s for s in strata if s not in emotional]
    per_label: Dict[str, int] = {}
    for label in emotional.values():
        per_label[label] = per_label.get(label, 0) + 1
    share = emotion_share if expressive else 1.0
    weights = {s: share / (len(per_label) * per_label[label]) for s, label in emotional.items()}
    weights.update({s: (1.0 - share) / len(expressive) for s in expressive})
    return weights


def action_family(content: str) -> str:
    """The family of an action: its name before the first '-' (walk-left -> walk)."""
    return content.split("-", 1)[0]


def fold_temperature(model: SkeletonTokenizer, temperature: float) -> SkeletonTokenizer:
    """Divide the classifier by a calibration temperature, so plain softmax is calibrated."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    with torch.no_grad():
        model.classifier.weight.div_(temperature)
        model.classifier.bias.div_(temperature)
    return model


def train_default(data_root: DataRoots, cfg: TrainConfig, out_dir: Path,
                  temperature: float = 1.0, extra: Optional[dict] = None,
                  progress: bool = True, joint_map: Optional[Path] = None,
                  exclude: Collection[Path] = ()) -> Path:
    """Train on every action all emotion styles share (pre-training: every clip); save it.
    `joint_map`: a joint-name map for the motion files of a lab's folder; `exclude`: clip
    files left out altogether (a study fold's people, to score them as strangers)."""
    left_out = set(exclude)
    clips = [c for c in index_clips(data_root, joint_map) if c.path not in left_out]
    if not clips:
        raise ValueError("no clip left to train on")
    labels = cfg.tokenizer.labels
    emotion = emotion_clips(clips, labels)
    shared = sorted({clips[i].content for i in emotion})
    records = load_records(clips)
    model, history = train_tokenizer(records, emotion, range(len(records)), cfg,
                                     progress=progress)
    fold_temperature(model, temperature)
    meta = {"train_config": cfg.to_dict(), "contents": shared,
            "pretrain_clips": len(records), "finetune_clips": len(emotion),
            "temperature": temperature, "temperature_folded_into_classifier": True,
            "final_losses": {k: float(np.mean(v[-50:])) for k, v in history.items()
                             if isinstance(v, list) and v},
            "datasets": [DATASETS[k].citation for k in sorted({c.dataset for c in clips})],
            "label_notes": [DATASETS[k].label_note for k in sorted({c.dataset for c in clips})
                            if DATASETS[k].label_note]}
    tok_cfg = TokenizerConfig.from_dict({**cfg.tokenizer.to_dict(),
                                         "training": {**meta, **(extra or {})}})
    return save_tokenizer(model, tok_cfg, out_dir)
