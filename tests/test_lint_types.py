"""Lint and types as habits: ruff and mypy over the package report nothing.

Both are pinned in ros2_ws/requirements-dev.txt and installed by ros2_ws/bootstrap.sh; a missing
one fails here rather than being skipped. Configuration: ruff.toml and mypy.ini at the root.
"""
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    assert importlib.util.find_spec(tool) is not None, (
        f'{tool} is not installed: run ros2_ws/bootstrap.sh (ros2_ws/requirements-dev.txt)')
    return subprocess.run([sys.executable, '-m', tool, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_ruff_finds_nothing():
    done = _run('ruff', 'check', '--no-cache', timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing():
    # About 35 s on a clean clone (no cache, the third-party types read), about 1 s after.
    done = _run('mypy', timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'Success' in done.stdout
