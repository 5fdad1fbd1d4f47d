"""`emotion-node demo --video`: the people of a real video, through the camera node into the
emotion node, printed; everything it started is stopped."""
import re
import subprocess
import sys

import pytest

from emotion_node.camera.video import sample_video

pytest.importorskip('mediapipe')

DOMAIN_ID = 73
VIDEO = sample_video()


@pytest.mark.skipif(not VIDEO.is_file(), reason=f'test video absent: {VIDEO}')
def test_demo_from_a_video_labels_the_people_it_finds(run_demo):
    done, leftovers = run_demo(['--video', str(VIDEO), '--duration', '6', '--llm', 'off'],
                               DOMAIN_ID, timeout=180)
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
