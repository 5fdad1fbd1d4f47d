"""Ctrl-C and SIGTERM end the node process and its explainer cleanly, as `ros2 launch` sends them.

Real processes: the node (`emotion-node run`, LLM on) in a process group of its own, as a launch
file or a terminal starts it, and the signals sent the way those do: SIGINT to the whole group
(a terminal's Ctrl-C, which the explainer child gets too), then a second one while the node
shuts down (launch forwards it); SIGTERM to the process or the group. Whether the LLM is still
loading or in the middle of an explanation, the node must exit with status 0 within a few
seconds, print no traceback, run the lifecycle shutdown once, and leave no explainer behind.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict

import psutil
import pytest

from emotion_node.ros.bag_io import load_tracks
from emotion_node.ros.convert import BodyFrame, build_skeleton_array, rclpy_factory
from emotion_node.skeleton.dataset import default_data_root

DOMAIN_ID = 48
TOPIC = '/signal_test/skeletons'
EXIT_S = 5.0  # launch escalates to SIGTERM after 5 s: the node must be gone before
LOADING = re.compile(r'explainer process (\d+): loading')

pytestmark = pytest.mark.integration  # real LLM loads, one node per case


class Feeder:
    """Publishes one real walking person at 30 Hz and reads the node's /diagnostics."""

    def __init__(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        from emotion_node.msg import SkeletonArray
        self.context = Context()
        rclpy.init(context=self.context, domain_id=DOMAIN_ID)
        self.node = rclpy.create_node('signal_test_feeder', context=self.context)
        self.pub = self.node.create_publisher(SkeletonArray, TOPIC, 10)
        self.diagnostics: Dict[str, str] = {}
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        clip = default_data_root() / 'data' / 'dataset-1_walk_angry_001.bvh'
        self.track = load_tracks([clip])[0]
        self.types = rclpy_factory()
        self.sent = 0

    def _on_diag(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith('emotion_node'):
                self.diagnostics = {kv.key: kv.value for kv in status.values}

    def feed_until(self, predicate: Any, timeout: float) -> bool:
        """Publish frames at 30 Hz until predicate() holds (True) or the timeout (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            k = int(self.sent * self.track.fps / 30.0) % len(self.track.positions)
            body = BodyFrame('1', 0.0, self.track.positions[k], self.track.mask[k], 'world')
            self.pub.publish(build_skeleton_array(self.types, time.time(), 'world', [body]))
            self.sent += 1
            self.executor.spin_once(timeout_sec=1 / 30)
            if predicate():
                return True
        return False

    def close(self) -> None:
        import rclpy
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def start_node(tmp_path: Path) -> tuple:
    """The node with explanations on, in a process group of its own; (process, log path)."""
    log = tmp_path / 'node.log'
    env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN_ID), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONUNBUFFERED='1')
    with open(log, 'wb') as out:
        proc = subprocess.Popen(
            [sys.executable, '-m', 'emotion_node', 'run', '--ros-args', '-p', 'llm.enabled:=true',
             '-p', f'input.topic:={TOPIC}', '-p', 'llm.period_s:=1.0'],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc, log


def wait_for(predicate: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def explainer_pid(log: Path) -> int:
    found = LOADING.search(log.read_text(errors='replace'))
    assert found, log.read_text(errors='replace')[-3000:]
    return int(found.group(1))


def send(proc: subprocess.Popen, sig: int, to_group: bool, times: int) -> None:
    """What a terminal (group) or launch (process) sends; repeats 0.3 s apart."""
    for i in range(times):
        if i:
            time.sleep(0.3)
        try:
            os.killpg(proc.pid, sig) if to_group else os.kill(proc.pid, sig)
        except ProcessLookupError:
            return  # already gone: a second signal has nothing to reach


def assert_clean_exit(proc: subprocess.Popen, log: Path, child: int, sent: float) -> None:
    try:
        rc = proc.wait(timeout=EXIT_S + 10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f'the node did not exit; its log:\n{log.read_text()[-3000:]}')
    took = time.monotonic() - sent
    text = log.read_text(errors='replace')
    assert rc == 0, text[-3000:]
    assert took < EXIT_S, (took, text[-3000:])
    assert 'Traceback' not in text and 'KeyboardInterrupt' not in text, text[-3000:]
    assert text.count('lifecycle shutdown from') == 1, text[-3000:]
    assert 'Loading weights' not in text and '%|' not in text  # log lines only
    # The explainer went with it (gone, or a zombie waiting for init to reap it).
    assert wait_for(lambda: not psutil.pid_exists(child) or
                    psutil.Process(child).status() == psutil.STATUS_ZOMBIE, 5.0), text[-2000:]


CASES = {  # name -> (signal, to the group, how many, when)
    'ctrl-c twice to the group while loading': (signal.SIGINT, True, 2, 'loading'),
    'ctrl-c twice to the group while explaining': (signal.SIGINT, True, 2, 'explaining'),
    'sigterm to the process while explaining': (signal.SIGTERM, False, 1, 'explaining'),
    'sigterm to the group while loading': (signal.SIGTERM, True, 1, 'loading'),
}


@pytest.mark.parametrize('case', list(CASES))
def test_signals_end_the_node_and_its_explainer_cleanly(case: str, tmp_path: Path) -> None:
    sig, to_group, times, when = CASES[case]
    proc, log = start_node(tmp_path)
    feeder = Feeder()
    try:
        assert wait_for(lambda: LOADING.search(log.read_text(errors='replace')) or
                        proc.poll() is not None, 90.0), log.read_text()[-3000:]
        child = explainer_pid(log)
        if when == 'loading':
            time.sleep(0.5)  # the child is importing torch and reading the LLM
            assert 'ready after' not in log.read_text()
        else:
            generating = feeder.feed_until(
                lambda: feeder.diagnostics.get('llm.state') == 'generating', 120.0)
            assert generating, (feeder.diagnostics, log.read_text()[-3000:])
        sent = time.monotonic()
        send(proc, sig, to_group, times)
        assert_clean_exit(proc, log, child, sent)
    finally:
        feeder.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def catches(pid: int, sig: int) -> bool:
    """Whether the process has a handler for the signal (Linux: SigCgt in /proc)."""
    try:
        status = Path(f'/proc/{pid}/status').read_text()
    except OSError:
        return False
    caught = int(re.search(r'SigCgt:\s*([0-9a-f]+)', status).group(1), 16)
    return bool(caught >> (sig - 1) & 1)


def test_ctrl_c_while_starting_ends_it_before_it_configures(tmp_path: Path) -> None:
    proc, log = start_node(tmp_path)
    try:
        # The stop handlers come first, before rclpy, numpy and the model code are imported
        # (a second or more, during which Ctrl-C used to end in a KeyboardInterrupt).
        end = time.monotonic() + 30.0
        while not catches(proc.pid, signal.SIGTERM) and time.monotonic() < end:
            time.sleep(0.005)
        maps = Path(f'/proc/{proc.pid}/maps').read_text()
        assert '_rclpy_pybind11' not in maps, 'rclpy was loaded before the stop handlers'
        sent = time.monotonic()
        send(proc, signal.SIGINT, True, 1)
        rc = proc.wait(timeout=EXIT_S + 10)
        text = log.read_text(errors='replace')
        assert rc == 0 and time.monotonic() - sent < EXIT_S, text[-3000:]
        assert 'Traceback' not in text and 'configured:' not in text, text[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
