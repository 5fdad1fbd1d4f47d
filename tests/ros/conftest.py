"""Shared fixtures for tests that talk over DDS between real processes.

Usage in a test module:

    @pytest.mark.ros_domain(42)          # each test its own ROS_DOMAIN_ID (see your room's range)
    def test_x(ros_env, ros_processes, topic_listener):
        sub = ros_processes.start(topic_listener('/topic', 'pkg/msg/Type', count=3), ros_env)
        pub = ros_processes.start([...], ros_env)
        out = ros_processes.wait(sub, timeout=20)   # (returncode, stdout, stderr)

`ros_env` is os.environ plus ROS_DOMAIN_ID from the marker and localhost-only discovery.
`ros_processes` starts processes in their own session and, at teardown (pass or fail), sends
SIGINT, then SIGKILL to what is still running. `topic_listener(...)` builds the command line
of a generic subscriber (this file run as a script) that prints one JSON line per message:
{"recv_ns": CLOCK_MONOTONIC ns, "stamp_ns": header stamp or null, "digest": content digest
(`message_digest`: sha256 of the deserialised message's repr; raw CDR bytes are not comparable,
their alignment padding is not zeroed), "size": received bytes} and exits after `count` messages
(rc 0) or after `timeout` seconds (rc 3).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import pytest

LISTENER_TIMEOUT_RC = 3


def pytest_configure(config: pytest.Config) -> None:
    """Register the ros_domain marker."""
    config.addinivalue_line(
        'markers', 'ros_domain(domain_id): ROS_DOMAIN_ID for this test (its own, to avoid '
                   'cross-talk with parallel runs)')


def make_ros_env(domain_id: int) -> dict[str, str]:
    """os.environ for a child process in its own DDS domain (moved by
    EMOTION_NODE_TEST_DOMAIN_SHIFT, tests/conftest.py), discovering on localhost only."""
    domain_id += int(os.environ.get('EMOTION_NODE_TEST_DOMAIN_SHIFT', '0'))
    if not 0 <= domain_id <= 101:
        raise ValueError(f'ROS_DOMAIN_ID must be in 0..101, got {domain_id}')
    env = dict(os.environ)
    env.pop('ROS_LOCALHOST_ONLY', None)  # deprecated; conflicts with the discovery range
    env.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONUNBUFFERED='1', PYTHONSAFEPATH='1')
    return env


@pytest.fixture
def ros_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment for child processes, domain id from @pytest.mark.ros_domain(N)."""
    marker = request.node.get_closest_marker('ros_domain')
    if marker is None or not marker.args:
        raise pytest.UsageError(f'{request.node.nodeid}: mark the test with '
                                f'@pytest.mark.ros_domain(N) to use ros_env')
    return make_ros_env(int(marker.args[0]))


class ProcessGroup:
    """Processes started by one test; every one is ended at teardown."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._procs: list[tuple[subprocess.Popen, Path, Path]] = []

    def start(self, args: Sequence[str], env: dict[str, str],
              cwd: Optional[Path] = None) -> subprocess.Popen:
        """Start a process in its own session; stdout/stderr go to files (no pipe deadlock)."""
        n = len(self._procs)
        out_path, err_path = self._log_dir / f'proc{n}.out', self._log_dir / f'proc{n}.err'
        with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
            proc = subprocess.Popen(list(args), env=env, cwd=cwd, stdout=out, stderr=err,
                                    start_new_session=True)
        self._procs.append((proc, out_path, err_path))
        return proc

    def output(self, proc: subprocess.Popen) -> tuple[str, str]:
        """(stdout, stderr) written so far."""
        for p, out_path, err_path in self._procs:
            if p is proc:
                return out_path.read_text(errors='replace'), err_path.read_text(errors='replace')
        raise ValueError(f'process {proc.pid} was not started by this group')

    def wait(self, proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
        """Wait for exit; on timeout end it and fail the test showing its output."""
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            out, err = self.output(proc)
            pytest.fail(f'process {proc.args} still running after {timeout} s\n'
                        f'stdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}')
        return (rc, *self.output(proc))

    def signal(self, proc: subprocess.Popen, sig: int) -> None:
        """Send a signal to the process (only if it still runs)."""
        if proc.poll() is None:
            os.kill(proc.pid, sig)

    def stop(self, proc: subprocess.Popen, grace: float = 3.0) -> None:
        """SIGINT, wait `grace` seconds, then SIGKILL its whole session (children too)."""
        from emotion_node.ros.node_main import stop_process
        stop_process(proc, grace)

    def stop_all(self) -> None:
        """End every process still running."""
        for proc, _, _ in self._procs:
            self.stop(proc)


@pytest.fixture
def ros_processes(tmp_path: Path):
    """A ProcessGroup whose processes are always ended, also when the test fails."""
    log_dir = tmp_path / 'proc_logs'
    log_dir.mkdir()
    group = ProcessGroup(log_dir)
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def topic_listener() -> Callable[..., list[str]]:
    """Command line of the generic JSON-lines subscriber (see the module docstring)."""
    def command(topic: str, msgtype: str, count: int, timeout: float = 20.0,
                qos: str = 'reliable') -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), 'listen', topic, msgtype,
                '--count', str(count), '--timeout', str(timeout), '--qos', qos]
    return command


def parse_json_lines(text: str) -> list[dict]:
    """The JSON objects among a process's output lines."""
    return [json.loads(line) for line in text.splitlines() if line.startswith('{')]


@pytest.fixture
def json_lines() -> Callable[[str], list[dict]]:
    """Parse a listener's stdout into a list of dicts."""
    return parse_json_lines


def message_digest(msg: object) -> str:
    """Content digest of a deserialised rclpy message (equal messages, equal digests)."""
    return hashlib.sha256(repr(msg).encode()).hexdigest()


@pytest.fixture
def digest() -> Callable[[object], str]:
    """`message_digest`: compare what a listener printed with messages you hold."""
    return message_digest


# --- message packages no wheel provides --------------------------------------------------------

INTERFACES = Path(__file__).resolve().parent / 'interfaces'
INTERFACE_PACKAGES = ('hri_msgs', 'tf2_msgs', 'yolo_msgs', 'zed_msgs')  # see interfaces/*/msg


class TrackerInterfaces:
    """An install prefix holding the stand-in hri_msgs, tf2_msgs, yolo_msgs and zed_msgs."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix

    @property
    def site_packages(self) -> Path:
        return self.prefix / 'lib' / f'python{sys.version_info[0]}.{sys.version_info[1]}' / \
            'site-packages'

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """`base` with the prefix in front, as sourcing its setup script would put it."""
        env = dict(base)
        for var, path in (('AMENT_PREFIX_PATH', self.prefix), ('PYTHONPATH', self.site_packages),
                          ('LD_LIBRARY_PATH', self.prefix / 'lib')):
            env[var] = os.pathsep.join([str(path)] + ([env[var]] if env.get(var) else []))
        return env


def _interfaces_key() -> str:
    """Digest of the stand-in sources and of the ROS and Python they are built against."""
    h = hashlib.sha256(f'{sys.executable}|{os.environ.get("ROS_DISTRO", "")}'.encode())
    for path in sorted(p for p in INTERFACES.rglob('*') if p.is_file()):
        h.update(str(path.relative_to(INTERFACES)).encode() + b'\0' + path.read_bytes())
    return h.hexdigest()[:16]


def build_interfaces(root: Path) -> Path:
    """colcon-build the stand-ins under root/<key> once (later calls, other sessions and
    parallel runs reuse it); return the install prefix."""
    import fcntl
    import shutil
    target = root / _interfaces_key()
    done = target / 'install' / '.built'
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f'{target.name}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait, then reuse
        if done.is_file():
            return target / 'install'
        shutil.rmtree(target, ignore_errors=True)  # a build that died half way
        for package in INTERFACE_PACKAGES:
            shutil.copytree(INTERFACES / package, target / 'src' / package)
        env = dict(os.environ)
        prefixes = [p for p in env.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
        env['CMAKE_PREFIX_PATH'] = os.pathsep.join(
            prefixes + [p for p in env.get('CMAKE_PREFIX_PATH', '').split(os.pathsep) if p])
        command = [str(Path(sys.executable).with_name('colcon')), '--log-base', 'log', 'build',
                   '--base-paths', 'src', '--build-base', 'build', '--install-base', 'install',
                   '--merge-install', '--parallel-workers', '2',
                   '--event-handlers', 'console_cohesion-', 'summary-',
                   '--cmake-args', f'-DPython3_EXECUTABLE={sys.executable}',
                   '-DBUILD_TESTING=OFF']
        built = subprocess.run(command, cwd=target, env=env, capture_output=True, text=True,
                               timeout=900)
        if built.returncode != 0:
            pytest.fail(f'building the stand-in interfaces failed in {target}:\n'
                        f'{(built.stdout + built.stderr)[-4000:]}')
        shutil.rmtree(target / 'build', ignore_errors=True)  # only the install is used
        done.touch()
    return target / 'install'


@pytest.fixture(scope='session')
def tracker_interfaces() -> TrackerInterfaces:
    """The stand-in message packages, built once (about 40 s on 2 cores) into the cache."""
    from emotion_node.cache import cache_root
    return TrackerInterfaces(build_interfaces(cache_root() / 'test_interfaces'))


@pytest.fixture(scope='session')
def interface_typestore():
    """bag_io's rosbags typestore plus the stand-in messages, read from their sources (for
    in-process tests: neither a build nor the packages needed)."""
    from rosbags.typesys import get_types_from_msg

    from emotion_node.ros.bag_io import message_typestore
    typestore = message_typestore()
    types: dict = {}
    for package in INTERFACE_PACKAGES:
        for msg_file in sorted((INTERFACES / package / 'msg').glob('*.msg')):
            types.update(get_types_from_msg(msg_file.read_text(),
                                            f'{package}/msg/{msg_file.stem}'))
    typestore.register(types)
    return typestore


class TrackerFaults:
    """Break the bodies of a built ZED or yolo_ros message (rosbags or rclpy) one way each, the
    last one left whole; return {body id: the rejection reason expected} ('' for the body that
    lost its id). Shared by the in-process and the across-process tests."""

    @staticmethod
    def zed(msg) -> dict[str, str]:
        from emotion_node.ros import convert
        objects = msg.objects  # bodies '1'..'7' (at least)
        objects[0].label_id = -1  # the wrapper without tracking
        objects[1].body_format = 3  # BODY_70: no layout
        objects[2].confidence = 150.0
        objects[3].confidence = math.nan
        objects[4].tracking_state = 2  # SEARCHING: an estimate, not an observation
        objects[5].skeleton_available = False
        return {'': convert.MISSING_BODY_ID, '2': convert.UNKNOWN_BODY_FORMAT,
                '3': convert.CONFIDENCE_OUT_OF_RANGE, '4': convert.CONFIDENCE_OUT_OF_RANGE,
                '5': convert.NOT_TRACKED, '6': convert.NO_SKELETON}

    @staticmethod
    def yolo(msg) -> dict[str, str]:
        from emotion_node.ros import convert
        dets = msg.detections  # detections '1'..'7' (at least)
        dets[0].id = ''  # no tracking node
        dets[1].keypoints3d.data[0].id = 18  # a whole-body model's keypoint
        dets[2].keypoints3d.data[1].id = dets[2].keypoints3d.data[0].id
        dets[3].keypoints3d.data[2].score = 1.5
        dets[4].keypoints3d.data = []  # the 2D topic, or no depth
        dets[5].keypoints3d.data = list(dets[5].keypoints3d.data) * 2
        return {'': convert.MISSING_BODY_ID, '2': convert.BAD_KEYPOINT_ID,
                '3': convert.DUPLICATE_JOINT, '4': convert.CONFIDENCE_OUT_OF_RANGE,
                '5': convert.NO_KEYPOINTS, '6': convert.WRONG_JOINT_COUNT}


@pytest.fixture(scope='session')
def tracker_faults() -> type[TrackerFaults]:
    """`TrackerFaults` (test modules cannot import conftest helpers)."""
    return TrackerFaults


def _listen(argv: Sequence[str]) -> int:
    """Subscriber mode: print one JSON line per message received; exit 0 once `--count` came,
    else LISTENER_TIMEOUT_RC."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from rclpy.serialization import deserialize_message

    from emotion_node.ros.convert import import_message_class, stamp_to_ns

    parser = argparse.ArgumentParser()
    parser.add_argument('mode')
    parser.add_argument('topic')
    parser.add_argument('msgtype')
    parser.add_argument('--count', type=int, required=True)
    parser.add_argument('--timeout', type=float, default=20.0)
    parser.add_argument('--qos', choices=('reliable', 'best_effort', 'sensor'), default='reliable')
    args = parser.parse_args(argv)
    qos = {'reliable': QoSProfile(depth=100),
           'best_effort': QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT),
           'sensor': qos_profile_sensor_data}[args.qos]
    cls = import_message_class(args.msgtype)
    received = []

    def on_message(raw: bytes) -> None:
        recv_ns = time.monotonic_ns()
        msg = deserialize_message(raw, cls)
        stamp = stamp_to_ns(msg.header.stamp) if hasattr(msg, 'header') else None
        if stamp is None and hasattr(msg, 'clock'):
            stamp = stamp_to_ns(msg.clock)
        received.append(1)
        print(json.dumps({'recv_ns': recv_ns, 'stamp_ns': stamp, 'size': len(raw),
                          'digest': message_digest(msg)}), flush=True)

    rclpy.init(args=[])
    node = rclpy.create_node('test_listener')
    node.create_subscription(cls, args.topic, on_message, qos, raw=True)
    deadline = time.monotonic() + args.timeout
    try:
        while len(received) < args.count and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
    except KeyboardInterrupt:
        pass
    rc = 0 if len(received) >= args.count else LISTENER_TIMEOUT_RC
    sys.stdout.flush()
    # The teardown lets the last acknowledgements out (a publisher may wait for them). A
    # listener once outlived its own 20 s deadline and the caller's 40 s in a CI run, so past
    # the loop only the teardown can have hung: a watchdog ends the process with the result
    # if it takes longer than 10 s.
    watchdog = threading.Timer(10.0, os._exit, args=(rc,))
    watchdog.daemon = True
    watchdog.start()
    node.destroy_node()
    rclpy.try_shutdown()
    return rc


if __name__ == '__main__':
    sys.exit(_listen(sys.argv[1:]))
