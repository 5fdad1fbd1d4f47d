"""The committed explainer served from its own process, as the node runs it."""
import time

import pytest

from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.model_files import default_model_dir
from emotion_node.runtime.explain_process import ProcessExplainer
from emotion_node.runtime.loading import load_model
from emotion_node.skeleton.bvh import read_bvh_canonical
from emotion_node.skeleton.cues import span_cues
from emotion_node.skeleton.dataset import default_data_root
from emotion_node.skeleton.preprocess import clip_windows, preprocess_batch

EXPLAINER = default_model_dir() / 'explainer'


@pytest.fixture(scope='module')
def window():
    """Tokens and cues of one real window of a sad walk, through the node's model path."""
    model = load_model()
    positions, mask, fps = read_bvh_canonical(
        default_data_root() / 'data' / 'dataset-1_walk_sad_001.bvh')
    raw, raw_mask, _ = clip_windows(positions, mask, fps, model.preprocess)
    x, m = preprocess_batch(raw[2:3], raw_mask[2:3], model.preprocess)
    out = model.backend.infer(x, m)
    model.backend.close()
    tokens = (out.temporal_tokens[0], out.spatial_tokens[0], out.semantic_tokens[0])
    return tokens, span_cues(raw[2], m[0], model.preprocess.fps)


@pytest.fixture(scope='module')
def explainer():
    assert (EXPLAINER / 'explainer.json').is_file(), f'no committed explainer in {EXPLAINER}'
    process = ProcessExplainer(EXPLAINER)
    try:
        yield process
    finally:
        process.close()
        assert not process._proc.is_alive()


def test_explains_the_label_it_is_given(explainer, window):
    tokens, cues = window
    answer = explainer.explain(tokens, 'sad', cues, deadline=time.monotonic() + 120)
    assert answer.text.lower().startswith('emotion: sad'), answer
    assert answer.label == 'sad' and answer.reading in EMOTION_STYLES, answer
    other = explainer.explain(tokens, 'happy', cues, deadline=time.monotonic() + 120)
    assert other.text.lower().startswith('emotion: happy'), other  # the label asked
    assert other.reading == answer.reading  # the reading is the window's, whatever is asked


def test_a_timeout_stops_generation_and_the_process_stays_usable(explainer, window):
    tokens, cues = window
    with pytest.raises(TimeoutError):
        explainer.explain(tokens, 'sad', cues, deadline=time.monotonic() + 0.05)
    text = explainer.explain(tokens, 'tired', cues, deadline=time.monotonic() + 120).text
    assert text.lower().startswith('emotion: tired'), text  # the answer of this request


def test_a_broken_explainer_directory_fails_with_its_name(tmp_path):
    with pytest.raises(RuntimeError, match=str(tmp_path)):
        ProcessExplainer(tmp_path)


def test_the_child_runs_niced_and_ignores_ctrl_c(window):
    import os
    import signal

    import psutil

    tokens, cues = window
    process = ProcessExplainer(EXPLAINER, nice=7)
    try:
        child = psutil.Process(process.pid)
        assert child.nice() == min(19, os.nice(0) + 7)  # yields the CPU to the node
        os.kill(process.pid, signal.SIGINT)  # what Ctrl-C sends to the whole group
        time.sleep(0.5)
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
        answer = process.explain(tokens, 'sad', cues, deadline=time.monotonic() + 120)
        assert answer.text.lower().startswith('emotion: sad'), answer.text
    finally:
        process.close()


def test_closing_while_loading_ends_the_child_at_once():
    import threading

    cancel = threading.Event()
    outcome = []

    def start() -> None:
        try:
            outcome.append(ProcessExplainer(EXPLAINER, cancel=cancel))
        except RuntimeError as err:
            outcome.append(err)
    thread = threading.Thread(target=start)
    thread.start()
    time.sleep(0.5)  # the child is importing torch and loading the LLM (seconds)
    cancel.set()
    stopped = time.monotonic()
    thread.join(60)
    assert time.monotonic() - stopped < 5.0  # not the load's 5 s or more to finish
    (err,) = outcome
    assert isinstance(err, RuntimeError) and 'stopped while loading' in str(err)


def test_loading_prints_no_progress_bar(tmp_path):
    # The child's stderr is the node's, and so a launch log: log lines only.
    import subprocess
    import sys

    script = tmp_path / 'load.py'
    script.write_text(
        'from emotion_node.runtime.explain_process import ProcessExplainer\n'
        'if __name__ == "__main__":\n'
        f'    ProcessExplainer({str(EXPLAINER)!r}).close()\n'
        '    print("loaded and closed")\n')
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and 'loaded and closed' in done.stdout, done.stderr
    assert 'Loading weights' not in done.stderr and '%|' not in done.stderr, done.stderr
    assert 'Traceback' not in done.stderr
