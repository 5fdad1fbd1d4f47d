"""The multi-granularity skeleton tokenizer: temporal, body-part and semantic tokens, class head.

Input is one preprocessed window per person, `x (B, T, 21, 3)` with its joint presence mask
`(B, T, 21)`. Per-joint features (positions, root-relative positions, bone directions,
velocities, presence) are computed inside the model; masked joints are zeroed first, so their
coordinates never reach the output. Time is downsampled early by strided convolutions and joints
are grouped into body parts, which keeps a batch of eight people well under a millisecond.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Tuple

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.model_files import (
    CONFIG_FILE, WEIGHTS_FILE, ModelFileError, default_model_dir, read_config, require_file,
    require_model_dir)
from emotion_node.skeleton.layouts import (
    BODY_PARTS, CANONICAL_INDEX, CANONICAL_JOINTS, CANONICAL_PARENTS, NUM_JOINTS)
from emotion_node.skeleton.preprocess import PreprocessConfig

# Names of the tuple `SkeletonTokenizer.forward` returns (also the ONNX output names).
OUTPUT_NAMES: Tuple[str, ...] = ("logits", "temporal_tokens", "spatial_tokens", "semantic_tokens")
INPUT_NAMES: Tuple[str, ...] = ("x", "mask")
# Per joint and frame: window position (3), position relative to the frame's root (3), unit bone
# direction from the parent (3), velocity (3), presence (1).
_FEATURES = 13
_ROOT_JOINTS = ("pelvis", "hip_l", "hip_r")


@dataclass
class TokenizerConfig:
    """Architecture, labels and preprocessing of one tokenizer; saved beside its weights."""

    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    labels: Tuple[str, ...] = EMOTION_STYLES
    token_dim: int = 64             # D: width of every token
    num_semantic_tokens: int = 4    # K: learned queries aligned with text
    stem_channels: int = 48         # per-part width after the strided stem
    channels: int = 64              # encoder width
    strides: Tuple[int, ...] = (2, 1)  # temporal stride of each block after the stem (stride 2)
    kernel_size: int = 5            # temporal kernel of the stem and every block
    num_heads: int = 4              # heads of the semantic-token attention
    dropout: float = 0.1
    velocity_norm: float = 0.0      # > 0: divide velocities by (window RMS speed + this), 1/s
    body_parts: Dict[str, Tuple[int, ...]] = field(default_factory=lambda: dict(BODY_PARTS))
    joints: Tuple[str, ...] = CANONICAL_JOINTS
    training: Dict[str, Any] = field(default_factory=dict)  # metadata of the run that made it

    def __post_init__(self) -> None:
        """Normalise JSON lists to tuples and check sizes."""
        self.labels = tuple(self.labels)
        self.joints = tuple(self.joints)
        self.strides = tuple(int(s) for s in self.strides)
        self.body_parts = {k: tuple(int(i) for i in v) for k, v in self.body_parts.items()}
        if self.token_dim % self.num_heads:
            raise ValueError(
                f"token_dim {self.token_dim} is not divisible by num_heads {self.num_heads}")
        if len(self.joints) != NUM_JOINTS:
            raise ValueError(f"expected {NUM_JOINTS} canonical joints, got {len(self.joints)}")
        if not self.labels:
            raise ValueError("labels must not be empty")
        if any(s not in (1, 2) for s in self.strides):
            raise ValueError(f"block strides must be 1 or 2, got {self.strides}")

    @property
    def num_parts(self) -> int:
        """P: number of body-part tokens."""
        return len(self.body_parts)

    @property
    def num_temporal_tokens(self) -> int:
        """T': number of temporal tokens left after the stem and the blocks."""
        t = self.preprocess.window_frames
        for stride in (2,) + self.strides:
            t = (t - 1) // stride + 1  # 'same' padding with an odd kernel
        return t

    def to_dict(self) -> Dict[str, Any]:
        """Return a JSON-ready dict."""
        out = asdict(self)
        out["preprocess"] = self.preprocess.to_dict()
        for key in ("labels", "joints", "strides"):
            out[key] = list(getattr(self, key))
        out["body_parts"] = {k: list(v) for k, v in self.body_parts.items()}
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "TokenizerConfig":
        """Build from `to_dict` output; unknown keys are an error."""
        data = dict(data)
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown tokenizer config keys {unknown}")
        if "preprocess" in data:
            data["preprocess"] = PreprocessConfig.from_dict(data["preprocess"])
        return cls(**data)


def _part_selection(body_parts: Dict[str, Tuple[int, ...]]) -> Tuple[torch.Tensor, int]:
    """(J, P*W) 0/1 matrix putting joints in part order, each part padded to W slots with zeros."""
    width = max(len(v) for v in body_parts.values())
    select = torch.zeros(NUM_JOINTS, len(body_parts) * width)
    for p, joints in enumerate(body_parts.values()):
        for slot, joint in enumerate(joints):
            select[joint, p * width + slot] = 1.0
    return select, width


class _Block(nn.Module):
    """Temporal convolution per part, then mixing across parts and across channels."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, parts: int,
                 dropout: float) -> None:
        super().__init__()
        self.temporal = nn.Conv2d(c_in, c_out, (kernel, 1), stride=(stride, 1),
                                  padding=(kernel // 2, 0), bias=False)
        self.norm1 = nn.BatchNorm2d(c_out)
        self.part_mix = nn.Linear(parts, parts, bias=False)
        self.channel_mix = nn.Conv2d(c_out, c_out, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(c_out)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T, P) -> (B, C_out, T / stride, P)."""
        h = F.relu(self.norm1(self.temporal(h)))  # Conv+BN+ReLU fuse into one kernel
        h = h + F.relu(self.part_mix(h))  # parts talk to each other (shared over channels)
        return h + self.drop(F.relu(self.norm2(self.channel_mix(h))))


class SkeletonTokenizer(nn.Module):
    """Encode a masked skeleton window into class logits and temporal, part and semantic tokens."""

    # Constant selection matrices, registered as (non-persistent) buffers in __init__.
    part_select: torch.Tensor  # (J, P*W)
    root_select: torch.Tensor  # (J, 1)
    bone_select: torch.Tensor  # (J, J)
    parent_select: torch.Tensor  # (J, J)

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        c0, c, d = config.stem_channels, config.channels, config.token_dim
        p, k, kernel = config.num_parts, config.num_semantic_tokens, config.kernel_size
        self.velocity_scale = float(config.preprocess.fps)  # per-frame -> per-second
        select, width = _part_selection(config.body_parts)
        self.register_buffer("part_select", select, persistent=False)  # (J, P*W)
        root = torch.zeros(NUM_JOINTS, 1)
        root[[CANONICAL_INDEX[n] for n in _ROOT_JOINTS], 0] = 1.0
        self.register_buffer("root_select", root, persistent=False)  # (J, 1)
        bone = torch.eye(NUM_JOINTS)  # column j: joint j minus its parent (the root: nothing)
        for j, parent in enumerate(CANONICAL_PARENTS):
            if parent < 0:
                bone[j, j] = 0.0
            else:
                bone[parent, j] = -1.0
        self.register_buffer("bone_select", bone, persistent=False)  # (J, J)
        # Column j picks joint j's parent: the -1 entries of bone_select.
        self.register_buffer("parent_select", (bone < 0).float(), persistent=False)  # (J, J)
        # Stem: a strided temporal conv spanning one part's W joint slots, shared by the parts
        # (a grouped conv per part is several times slower); parts differ later in part_mix.
        self.stem = nn.Conv2d(_FEATURES, c0, (kernel, width), stride=(2, width),
                              padding=(kernel // 2, 0), bias=False)
        self.stem_norm = nn.BatchNorm2d(c0)
        blocks, w = [], c0
        for stride in config.strides:
            blocks.append(_Block(w, c, kernel, stride, p, config.dropout))
            w = c
        self.blocks = nn.ModuleList(blocks)
        tt = config.num_temporal_tokens
        self.temporal_proj = nn.Linear(c, d)
        self.spatial_proj = nn.Linear(c, d)
        self.part_embed = nn.Parameter(torch.zeros(p, d))
        self.time_embed = nn.Parameter(torch.zeros(tt, d))
        self.kv_pos = nn.Parameter(torch.zeros(tt * p, c))
        self.key = nn.Linear(c, d)
        self.value = nn.Linear(c, d)
        self.queries = nn.Parameter(torch.randn(k, d) * 0.02)
        self.attn_out = nn.Linear(d, d)
        self.norm_q = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.norm_s = nn.LayerNorm(d)
        self.head_drop = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(k * d, len(config.labels))

    def _part_features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, J, 3), (B, T, J) -> per-joint features by part slot (B, F, T, P*W)."""
        m = mask.unsqueeze(1)  # (B, 1, T, J); channels first keeps broadcasts cheap in ONNX
        pos = x.permute(0, 3, 1, 2) * m  # (B, 3, T, J): masked coordinates stop here
        # Posture apart from the path: positions relative to this frame's root (pelvis/hips).
        root_n = m @ self.root_select  # (B, 1, T, 1) present root joints
        root = (pos @ self.root_select) / root_n.clamp(min=1.0)
        rel = (pos - root) * (m * (root_n > 0).to(pos.dtype))
        # Scale-free posture: unit bone directions, where joint and parent are both seen.
        bone_ok = m * (m @ self.parent_select)  # (B, 1, T, J)
        bone = (pos @ self.bone_select) * bone_ok
        bone = bone / (bone.pow(2).sum(dim=1, keepdim=True) + 1e-6).sqrt()
        both = m[:, :, 1:] * m[:, :, :-1]  # velocity only where both frames see the joint
        vel = (pos[:, :, 1:] - pos[:, :, :-1]) * (both * self.velocity_scale)
        vel = torch.cat([torch.zeros_like(vel[:, :, :1]), vel], dim=2)  # (B, 3, T, J)
        if self.config.velocity_norm > 0:  # keep how the body moves, drop how fast overall
            seen = both.sum(dim=(1, 2, 3), keepdim=True).clamp(min=1.0)
            rms = (vel.pow(2).sum(dim=(1, 2, 3), keepdim=True) / seen).sqrt()  # (B, 1, 1, 1)
            vel = vel / (rms + self.config.velocity_norm)
        feat = torch.cat([pos, rel, bone, vel, m], dim=1)  # (B, F, T, J)
        return feat @ self.part_select  # a matmul gathers faster than indexing in ONNX

    def _semantic(self, h: torch.Tensor) -> torch.Tensor:
        """K learned queries attend over the (T' x P) feature map: (B, C, T', P) -> (B, K, D)."""
        b = h.shape[0]
        heads, d = self.config.num_heads, self.config.token_dim
        kv = h.flatten(2).transpose(1, 2) + self.kv_pos  # (B, N, C)
        keys = self.key(kv).reshape(b, -1, heads, d // heads).transpose(1, 2)  # (B, H, N, dh)
        vals = self.value(kv).reshape(b, -1, heads, d // heads).transpose(1, 2)
        q = self.queries.reshape(-1, heads, d // heads).transpose(0, 1)  # (H, K, dh)
        att = torch.softmax(q @ keys.transpose(2, 3) / math.sqrt(d // heads), dim=-1)
        out = (att @ vals).transpose(1, 2).reshape(b, -1, d)  # (B, K, D)
        s = self.norm_q(self.queries + self.attn_out(out))
        return self.norm_s(s + self.mlp(s))

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the feature map (B, C, T', P)."""
        mask = mask.to(x.dtype)
        h = F.relu(self.stem_norm(self.stem(self._part_features(x, mask))))  # (B, C0, T1, P)
        for block in self.blocks:
            h = block(h)  # (B, C, T', P)
        return h

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Return (logits (B, C), temporal (B, T', D), spatial (B, P, D), semantic (B, K, D))."""
        h = self.encode(x, mask)  # (B, C, T', P)
        temporal = self.temporal_proj(h.mean(dim=3).transpose(1, 2)) + self.time_embed
        spatial = self.spatial_proj(h.mean(dim=2).transpose(1, 2)) + self.part_embed
        semantic = self._semantic(h)  # (B, K, D)
        logits = self.classifier(self.head_drop(semantic.flatten(1)))
        return logits, temporal, spatial, semantic


def save_tokenizer(model: SkeletonTokenizer, config: TokenizerConfig, directory: Path) -> Path:
    """Write `model.safetensors` and `config.json` into `directory`; return the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    (directory / WEIGHTS_FILE).chmod(0o644)  # the writer creates it owner-only
    # Key order matters: body parts map to token columns in insertion order.
    text = json.dumps(config.to_dict(), indent=2)
    (directory / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")
    return directory


def load_tokenizer(directory: Path | None = None) -> Tuple[SkeletonTokenizer, TokenizerConfig]:
    """Load a tokenizer saved by `save_tokenizer` (default: `default_model_dir()`), eval mode."""
    directory = Path(directory) if directory is not None else default_model_dir()
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer file {path} not found")
    config = TokenizerConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    model = SkeletonTokenizer(config)
    model.load_state_dict(load_file(str(weights_path)))
    return model.eval(), config


def load_tokenizer_checked(model_dir: Path) -> Tuple[SkeletonTokenizer, TokenizerConfig]:
    """`load_tokenizer` with every file problem raised as a ModelFileError naming the file."""
    model_dir = require_model_dir(model_dir)
    config_path = model_dir / CONFIG_FILE
    try:
        TokenizerConfig.from_dict(read_config(model_dir))
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"tokenizer config {config_path} is invalid: {exc}") from exc
    weights = require_file(model_dir / WEIGHTS_FILE, "tokenizer weights")
    try:
        return load_tokenizer(model_dir)
    except (SafetensorError, OSError, RuntimeError, KeyError, ValueError) as exc:
        # A truncated file, a foreign state dict or mismatched shapes all end here.
        raise ModelFileError(f"tokenizer weights {weights} cannot be loaded: {exc}") from exc


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
