"""Shared fixtures for the skeleton room: the real dataset (skipped when absent)."""

from pathlib import Path

import pytest

from emotion_node.skeleton.dataset import default_data_root

def _find_data_root() -> Path | None:
    try:
        return default_data_root()
    except FileNotFoundError:
        pass
    # Source checkout without package.xml yet: the same <repo>/../shared/data rule.
    guess = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bandai-motion-1"
    return guess if guess.is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _find_data_root()
    if root is None:
        pytest.skip("Bandai motion dataset not found (set EMOTION_NODE_DATA or provide "
                    "../shared/data/bandai-motion-1)")
    return root


@pytest.fixture(scope="session")
def clip_path(data_root):
    def path(content: str, style: str, take: int = 1) -> Path:
        return data_root / "data" / f"dataset-1_{content}_{style}_{take:03d}.bvh"
    return path
