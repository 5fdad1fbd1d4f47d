"""Shared by the demo tests: run `emotion-node demo` and find what it left running."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable, List, Sequence, Tuple

import psutil
import pytest

# Marks every process a demo test starts (inherited by the demo's node, replay or camera node),
# so another program of the same ROS domain on this machine is neither counted nor stopped.
RUN_MARK = ('EMOTION_NODE_DEMO_TEST', uuid.uuid4().hex)


def _marked_processes() -> List[Tuple[psutil.Process, str]]:
    """This session's demo processes (emotion_node ones) that are still running."""
    found = []
    for proc in psutil.process_iter(['cmdline']):
        try:
            cmd = ' '.join(proc.info['cmdline'] or [])
            if 'emotion_node' in cmd and proc.environ().get(RUN_MARK[0]) == RUN_MARK[1]:
                found.append((proc, cmd))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture
def run_demo(tmp_path: Path) -> Callable[..., Tuple[subprocess.CompletedProcess, List[str]]]:
    """`run_demo(args, domain, timeout)`: run `emotion-node demo ARGS` in its own ROS domain,
    discovering on localhost only; return the finished process and the command lines of what
    it left running (each then killed: a test never leaves a stray node behind)."""
    def run(args: Sequence[str], domain: int, timeout: float
            ) -> Tuple[subprocess.CompletedProcess, List[str]]:
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain),
                   ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
        env[RUN_MARK[0]] = RUN_MARK[1]
        env.pop('ROS_LOCALHOST_ONLY', None)
        try:
            done = subprocess.run([sys.executable, '-m', 'emotion_node', 'demo', *args], env=env,
                                  cwd=tmp_path, capture_output=True, text=True, timeout=timeout)
        finally:
            found = _marked_processes()
            for proc, _ in found:
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    continue
        return done, [cmd for _, cmd in found]
    return run
