"""`emotion-node demo --video`: the people of a real video, through the camera node into the
emotion node, printed; everything it started is stopped."""
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

pytest.importorskip('mediapipe')

DOMAIN_ID = 73
VIDEO = Path(__file__).resolve().parents[1] / 'data' / 'video' / \
    'one-by-one-person-detection.mp4'
RUN_MARK = ('EMOTION_NODE_DEMO_VIDEO_TEST', uuid.uuid4().hex)  # this test's processes only


def _started_here() -> list:
    found = []
    for proc in psutil.process_iter(['cmdline']):
        try:
            cmd = ' '.join(proc.info['cmdline'] or [])
            if 'emotion_node' in cmd and proc.environ().get(RUN_MARK[0]) == RUN_MARK[1]:
                found.append((proc, cmd))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.mark.skipif(not VIDEO.is_file(), reason=f'test video absent: {VIDEO}')
def test_demo_from_a_video_labels_the_people_it_finds(tmp_path):
    env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN_ID), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    env[RUN_MARK[0]] = RUN_MARK[1]
    env.pop('ROS_LOCALHOST_ONLY', None)
    cmd = [sys.executable, '-m', 'emotion_node', 'demo', '--video', str(VIDEO), '--duration',
           '6', '--llm', 'off']
    try:
        done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=180)
    finally:
        found = _started_here()
        leftovers = [c for _, c in found]
        for proc, _ in found:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                continue
    assert done.returncode == 0, done.stderr[-3000:]
    labels = re.findall(r'person (cam_\d+) \(on camera\)\s+(\w+)\s+(\d+)%', done.stdout)
    assert labels, done.stdout
    assert 'EmotionState messages. Labels while tracked:' in done.stdout
    assert leftovers == [], leftovers


def test_a_missing_video_is_an_error(tmp_path):
    done = subprocess.run([sys.executable, '-m', 'emotion_node', 'demo', '--video',
                           str(tmp_path / 'none.mp4')], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and 'none.mp4' in done.stderr
