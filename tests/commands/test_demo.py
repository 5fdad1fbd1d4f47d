"""`emotion-node demo`: starts the node and a replay, prints the stream, stops what it started."""
import os
import re
import subprocess
import sys
import uuid

import psutil

DOMAIN_ID = 71
# Marks every process this test starts (inherited by the demo's node and replay), so another
# program of the same ROS domain on this machine is neither counted nor stopped.
RUN_MARK = ('EMOTION_NODE_DEMO_TEST', uuid.uuid4().hex)


def demo_processes() -> list:
    """This test's emotion_node processes (node or replay) that are still running."""
    found = []
    for proc in psutil.process_iter(['cmdline']):
        try:
            cmd = ' '.join(proc.info['cmdline'] or [])
            if 'emotion_node' in cmd and proc.environ().get(RUN_MARK[0]) == RUN_MARK[1]:
                found.append((proc, cmd))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_demo_prints_people_and_labels_then_stops_everything(tmp_path):
    env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN_ID), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    env[RUN_MARK[0]] = RUN_MARK[1]
    env.pop('ROS_LOCALHOST_ONLY', None)
    cmd = [sys.executable, '-m', 'emotion_node', 'demo', '--duration', '6', '--people', '3',
           '--llm', 'off']
    try:
        done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=150)
    finally:
        found = demo_processes()
        leftovers = [cmd for _, cmd in found]
        for proc, _ in found:  # never leave a stray node behind
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                continue
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert '1: sad walk, 2: happy walk, 3: angry walk' in out
    labels = re.findall(r'person (\d) \([a-z-]+ walk\)\s+(\w+)\s+(\d+)%', out)
    assert {who for who, _, _ in labels} == {'1', '2', '3'}, out
    assert 'EmotionState messages. Labels while tracked:' in out
    assert leftovers == [], leftovers
