"""The datasets as data: each one's label table (style -> emotion label), what its labels mean,
and the clip record every reader fills in.

Each dataset has its own style vocabulary; `DATASETS` says, per dataset, which styles carry an
emotion label (and which label) and which are expressive styles without one. A clip's emotion
comes only from that table, so a style nobody mapped can never be trained on as an emotion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: its key, where it usually lives, its credit and its label table."""

    key: str                        # Bandai: the file-name prefix before the first '_'
    dirname: str                    # folder name of the shared copy ('' for none)
    citation: str                   # credit, with the terms of use
    emotions: dict[str, str]        # style -> emotion label (EMOTION_STYLES names)
    expressive: tuple[str, ...]     # styles without an emotion label (pre-training, style head)
    # Annotators chose among this dataset's labels only: for its clips the model's other
    # labels are unknown, not wrong (training can spare them: TrainConfig.partial_labels), and
    # it is also scored among its own labels.
    partial_labels: bool = False
    root_locked: bool = False       # the path through the room was removed (no travel)
    label_note: str = ""            # what its labels mean, for a model card

    @property
    def label_set(self) -> tuple[str, ...]:
        """The emotion labels this dataset's clips can have, in table order, once each."""
        return tuple(dict.fromkeys(self.emotions.values()))

    def own_labels(self, model_labels: Sequence[str]) -> list[str]:
        """The model's labels this dataset's clips can have, in table order: what a
        partial-label dataset is also scored among."""
        return [label for label in self.label_set if label in model_labels]

    @property
    def styles(self) -> tuple[str, ...]:
        """Every style, emotion styles first, in table order (the style head's classes)."""
        return tuple(self.emotions) + self.expressive

    def emotion_of(self, style: str) -> Optional[str]:
        """The emotion label of a style, None for an expressive one; ValueError if unknown."""
        if style in self.emotions:
            return self.emotions[style]
        if style in self.expressive:
            return None
        raise ValueError(f"style {style!r} is not in the {self.key} label table "
                         f"(styles: {list(self.styles)})")


_CITATION = ("Bandai Namco Research Motion Dataset {n} (Kobayashi et al. 2023, arXiv:2306.08861), "
             "CC BY-NC 4.0")
# Dataset 1: fifteen styles, seven of them emotion-like and used as emotion labels as they are.
DATASET_1 = DatasetSpec(
    key="dataset-1", dirname="bandai-motion-1", citation=_CITATION.format(n=1),
    emotions={s: s for s in ("normal", "happy", "sad", "angry", "proud", "not-confident",
                             "tired")},
    expressive=("active", "childish", "chimpira", "feminine", "giant", "masculinity",
                "musical", "old"))
# Dataset 2: seven uniform styles; only normal and exhausted (= tired) are emotions.
DATASET_2 = DatasetSpec(
    key="dataset-2", dirname="bandai-motion-2", citation=_CITATION.format(n=2),
    emotions={"normal": "normal", "exhausted": "tired"},
    expressive=("active", "elderly", "feminine", "masculine", "youthful"))
# Emotion-Gait (STEP's real gaits): the emotion annotators perceived, among four; neutral is
# the project's normal. Other labels (proud, not-confident, tired) were never offered.
EMOTION_GAIT = DatasetSpec(
    key="emotion-gait", dirname="emotion-gait",
    citation=("Emotion-Gait (STEP: Bhattacharya et al., AAAI 2020; University of Maryland), "
              "research use"),
    emotions={"neutral": "normal", "happy": "happy", "sad": "sad", "angry": "angry"},
    expressive=(), partial_labels=True, root_locked=True,
    label_note=("Emotion-Gait's labels are the emotion annotators perceived in each walk "
                "(happy, angry, sad, neutral), not the one the walker felt or acted: the model "
                "learns how a walk looks to people."))
# A lab's own recordings: label words are the model's labels, `neutral` accepted for normal.
FOLDER = DatasetSpec(
    key="folder", dirname="", citation="a lab's own recordings (labels.csv)",
    emotions={**{label: label for label in DATASET_1.emotions.values()}, "neutral": "normal"},
    expressive=())
DATASETS: dict[str, DatasetSpec] = {d.key: d for d in (DATASET_1, DATASET_2, EMOTION_GAIT,
                                                       FOLDER)}
# The datasets whose shared copies the defaults look for (a folder has no shared copy).
SHARED_DATASETS = (DATASET_1, DATASET_2, EMOTION_GAIT)


@dataclass(frozen=True)
class ClipInfo:
    """One BVH clip and its labels: the dataset's own style and the emotion it stands for."""

    path: Path
    content: str
    style: str
    take: int
    dataset: str = DATASET_1.key
    emotion: Optional[str] = None  # None: an expressive style without an emotion label
    person: Optional[str] = None   # the performer, where the source names one
    group: str = ""                # the source library within a dataset (Emotion-Gait)
    joint_map: Optional[Path] = None  # a user's joint-name map (a lab's own folder)
    # The emotion the performer was asked to show, where the source names one beside a
    # perceived label (Emotion-Gait's `acted`); None elsewhere (the label is then both).
    acted: Optional[str] = None

    @property
    def spec(self) -> DatasetSpec:
        """The dataset's label table."""
        return DATASETS[self.dataset]

    @property
    def action_key(self) -> str:
        """This clip's action within its dataset (`action_key`)."""
        return action_key(self.dataset, self.content)

    @property
    def person_key(self) -> Optional[str]:
        """Who performed it, for person-disjoint folds: the named person, else the source
        library as one group (its people are unknown, so it never straddles a split), else
        None (a dataset without people: Bandai's three actors are not named per clip)."""
        if self.person:
            return f"{self.dataset}:{self.group}:{self.person}"
        return f"{self.dataset}:{self.group}" if self.group else None


def action_key(dataset: str, content: str) -> str:
    """One dataset's action, 'dataset-1:walk': neutral-motion statistics are kept per key,
    since one studio's neutral walk is not the other's."""
    return f"{dataset}:{content}"


@dataclass
class ClipIndex:
    """The clips found under some roots, and the files passed over (counted, never mislabelled)."""

    clips: list[ClipInfo] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # .bvh files whose names no dataset has

    def datasets(self) -> list[str]:
        """Dataset keys present, sorted."""
        return sorted({c.dataset for c in self.clips})
