"""`emotion-node run` autostarts unless the user names autostart (so run + replay work bare)."""
import emotion_node.ros.node_main as node_main
import emotion_node.ros.stop_signals as stop_signals
from emotion_node.commands import run


def _argv_seen(monkeypatch, argv):
    seen = []
    # The node's stop handlers are not installed in the test process.
    monkeypatch.setattr(stop_signals, 'StopSignals', lambda: 'handlers')
    monkeypatch.setattr(node_main, 'main', lambda args, stop: seen.append((args, stop)) or 0)
    assert run.main_with_ros_args(argv) == 0
    assert seen[0][1] == 'handlers'  # installed before the node's imports, handed to it
    return seen[0][0]


def test_bare_run_configures_and_activates(monkeypatch):
    assert _argv_seen(monkeypatch, []) == [
        'emotion-node-run', '--ros-args', '-p', 'autostart:=true']


def test_user_autostart_and_params_file_come_after_the_default(monkeypatch):
    argv = ['--ros-args', '-p', 'autostart:=false']
    assert _argv_seen(monkeypatch, argv) == ['emotion-node-run', *argv]
    seen = _argv_seen(monkeypatch, ['--ros-args', '--params-file', 'p.yaml'])
    assert seen.index('autostart:=true') < seen.index('--params-file')


def test_arguments_must_start_with_ros_args(capsys):
    assert run.main_with_ros_args(['-p', 'x:=1']) == 2
    assert '--ros-args' in capsys.readouterr().err


def test_stop_process_ends_what_an_exited_process_left_behind(tmp_path):
    import os
    import time

    pid_file = tmp_path / 'child.pid'
    proc = node_main.spawn(['bash', '-c', f'sleep 60 & echo $! > {pid_file}'],
                           tmp_path / 'log')
    proc.wait(timeout=10)  # the parent has gone; its child sleeps on in the same session
    child = int(pid_file.read_text())
    os.kill(child, 0)  # alive
    assert node_main.stop_process(proc) == 0
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f'child {child} outlived stop_process')
