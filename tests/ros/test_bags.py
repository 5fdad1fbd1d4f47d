"""rosbag2 writing and reading, the bag/replay commands, and replay timing across processes."""
from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from emotion_node import cli
from emotion_node.camera.video import sample_video
from emotion_node.ros import bag_io
from emotion_node.ros.convert import marker_array_to_frames, skeleton_array_to_frames
from emotion_node.skeleton.dataset import default_data_root
from emotion_node.skeleton.layouts import NUM_JOINTS

# Across processes the replay tests check what arrives, in which order and how often; how
# exactly it is spaced depends on how busy the machine is, so the schedule itself is checked on
# a virtual clock (`test_replay_schedule_follows_the_stamps_and_the_rate`) and the spacing
# over DDS is printed, not asserted.


def _tracks(lengths=(40, 25), fps=30.0, seed=0) -> list[bag_io.Track]:
    """Synthetic people with some joints unseen, of different lengths."""
    rng = np.random.default_rng(seed)
    tracks = []
    for k, n in enumerate(lengths):
        pos = rng.normal(0, 0.2, (n, NUM_JOINTS, 3)).astype(np.float32)
        mask = rng.random((n, NUM_JOINTS)) > 0.1
        pos[~mask] = 0.0
        tracks.append(bag_io.Track(str(k + 1), pos, mask, fps))
    return tracks


@pytest.fixture(scope='module')
def clips() -> list[Path]:
    """Two real clips of the shared dataset."""
    try:
        root = default_data_root()
    except FileNotFoundError:
        pytest.skip('Bandai motion dataset not found')
    found = [sorted(root.glob(f'data/dataset-1_{name}_*.bvh'))
             for name in ('bow_happy', 'walk_sad')]
    if not all(found):
        pytest.skip(f'expected clips not found under {root}')
    return [f[0] for f in found]


@pytest.mark.parametrize('storage', bag_io.STORAGE_FORMATS)
@pytest.mark.parametrize('kind', ['skeleton', 'markers'])  # zed, yolo: tests/ros/test_trackers.py
def test_bag_reads_back_identically(tmp_path: Path, storage: str, kind: str) -> None:
    tracks = _tracks()
    start = 1_700_000_000 * 10**9
    summary = bag_io.write_bag(tmp_path / 'bag', tracks, storage, kind, start_ns=start)
    assert summary.messages == 40 and summary.bodies == 2
    msgtype, topic = bag_io.INPUT_KINDS[kind]
    assert bag_io.bag_topics(tmp_path / 'bag') == {topic: msgtype}
    to_frames = skeleton_array_to_frames if kind == 'skeleton' else marker_array_to_frames
    rows = list(bag_io.read_bag(tmp_path / 'bag'))
    assert len(rows) == 40
    for i, (got_topic, stamp_ns, msg) in enumerate(rows):
        expected_ns = start + round(i * 1e9 / 30.0)
        assert got_topic == topic and stamp_ns == expected_ns
        frames, rejections = to_frames(msg, min_valid_joints=0)
        assert rejections == []
        live = [t for t in tracks if i < len(t.positions)]  # the shorter clip ends first
        assert [f.body_id for f in frames] == [t.body_id for t in live]
        for track, frame in zip(live, frames):
            assert round(frame.stamp * 1e9) == pytest.approx(expected_ns, abs=500)
            np.testing.assert_array_equal(frame.mask, track.mask[i])
            np.testing.assert_array_equal(frame.positions, track.positions[i])  # exact


def test_bag_metadata_plays_with_ros2_bag(tmp_path: Path) -> None:
    """What `ros2 bag play` needs: version, cdr, type names, definitions and the built hashes."""
    from ament_index_python.packages import get_package_share_directory
    from rosbags.rosbag2 import Reader
    bag_io.write_bag(tmp_path / 'bag', _tracks(), 'mcap', 'skeleton')
    share = Path(get_package_share_directory('emotion_node'))
    built = json.loads((share / 'msg' / 'SkeletonArray.json').read_text())
    built_hash = next(h['hash_string'] for h in built['type_hashes']
                      if h['type_name'] == 'emotion_node/msg/SkeletonArray')
    meta = yaml.safe_load((tmp_path / 'bag' / 'metadata.yaml').read_text())
    info = meta['rosbag2_bagfile_information']
    assert info['version'] == bag_io.BAG_VERSION and info['storage_identifier'] == 'mcap'
    (topic,) = info['topics_with_message_count']
    assert topic['message_count'] == 40
    assert topic['topic_metadata']['type_description_hash'] == built_hash
    assert topic['topic_metadata']['offered_qos_profiles'][0]['reliability'] == 'reliable'
    with Reader(tmp_path / 'bag') as reader:
        (conn,) = reader.connections
        assert conn.msgtype == 'emotion_node/msg/SkeletonArray'
        assert conn.ext.serialization_format == 'cdr'
        assert 'MSG: emotion_node/Skeleton' in conn.msgdef.data  # the definition travels along


def test_people_stand_side_by_side(clips: list[Path]) -> None:
    tracks = bag_io.load_tracks(clips, first_body_id=5, spacing_m=2.0, duration_s=1.0)
    assert [t.body_id for t in tracks] == ['5', '6']
    assert [len(t.positions) for t in tracks] == [30, 30] and tracks[0].fps == 30.0
    pelvis0 = [t.positions[0, 0] for t in tracks]
    assert pelvis0[0][1] - pelvis0[1][1] == pytest.approx(2.0, abs=1e-5)  # first one on the left
    assert pelvis0[0][:2] == pytest.approx([0.0, 1.0], abs=1e-5)
    assert 0.7 < pelvis0[0][2] < 1.3  # pelvis height untouched, metres


def test_a_later_person_comes_into_view_later(clips: list[Path]) -> None:
    tracks = bag_io.load_tracks(clips, duration_s=1.0, stagger_s=0.5)
    assert [t.start_s for t in tracks] == [0.0, 0.5]
    stamps = [stamp for stamp, _ in bag_io.track_frames(tracks, 10**9)]
    assert len(stamps) == 45 and stamps[0] == 10**9 and stamps[-1] == 10**9 + 1_466_666_667
    instants = dict(bag_io.track_frames(tracks, 0))
    assert [b.body_id for b in instants[500_000_000]] == ['1', '2']
    assert [b.body_id for b in instants[0]] == ['1']


def test_bag_command_writes_and_reports(tmp_path: Path, clips: list[Path], capsys) -> None:
    out = tmp_path / 'two'
    argv = ['bag', *map(str, clips), '--out', str(out), '--format', 'sqlite3',
            '--input', 'markers', '--duration', '0.5', '--topic', '/k4a/body_tracking_data']
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert 'wrote' in printed and '15 messages on /k4a/body_tracking_data' in printed
    assert 'body 2: ' + clips[1].name in printed
    assert (out / 'metadata.yaml').is_file() and list(out.glob('*.db3'))
    frames = [marker_array_to_frames(m)[0] for _, _, m in bag_io.read_bag(out)]
    assert [[f.body_id for f in fs] for fs in frames] == [['1', '2']] * 15
    assert cli.main(argv) == 1  # exists
    assert 'already exists' in capsys.readouterr().err
    assert cli.main(argv + ['--overwrite']) == 0


@pytest.mark.parametrize('argv, code, message', [
    (['bag', '/no/such.bvh', '--out', 'X'], 1, 'not found'),
    (['bag', '{clip}', '--out', '{tmp}/b', '--duration', '0'], 2, '--duration'),
    (['bag', '{clip}', '--out', '{tmp}/b', '--spacing', '-1'], 2, '--spacing'),
    (['bag', '{clip}', '--out', '{tmp}/b', '--stagger', '-0.5'], 2, '--stagger'),
    (['bag', '{clip}', '--out', '{tmp}/b', '--stagger', 'nan'], 2, '--stagger'),
    (['replay', '{tmp}'], 1, 'not a rosbag2 folder'),
    (['replay', '{tmp}', '--rate', '0'], 2, 'rate must be > 0'),
    (['replay', '{tmp}', '--remap', '/a'], 2, 'FROM:=TO'),
])
def test_commands_reject_bad_input(tmp_path: Path, clips: list[Path], capsys, argv, code,
                                   message) -> None:
    argv = [a.format(clip=clips[0], tmp=tmp_path) for a in argv]
    assert cli.main(argv) == code
    assert message in capsys.readouterr().err


def test_bad_enum_arguments_exit_with_usage(tmp_path: Path, clips: list[Path]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(['bag', str(clips[0]), '--out', str(tmp_path / 'b'), '--format', 'rosbag1'])
    assert exc.value.code == 2


def test_unreadable_bvh_is_a_clear_error(tmp_path: Path, capsys) -> None:
    broken = tmp_path / 'broken.bvh'
    broken.write_text('HIERARCHY\nROOT Hips\n{\n')
    assert cli.main(['bag', str(broken), '--out', str(tmp_path / 'b')]) == 1
    assert 'broken.bvh' in capsys.readouterr().err
    assert not (tmp_path / 'b').exists()


def _gap_errors_ms(rows: list[dict]) -> np.ndarray:
    recv = np.array([r['recv_ns'] for r in rows], dtype=np.int64)
    stamp = np.array([r['stamp_ns'] for r in rows], dtype=np.int64)
    return (np.diff(recv) - np.diff(stamp)) / 1e6


def _replay_cmd(bag: Path, *extra: str) -> list[str]:
    return [sys.executable, '-m', 'emotion_node', 'replay', str(bag), '--wait-for-subscribers',
            '1', *extra]


def _timed_replay(bag: Path, ros_env, ros_processes, topic_listener, json_lines,
                  count: int) -> tuple[list[dict], dict]:
    """Replay `bag` to a listener in another process; its rows and the gap-error figures."""
    sub = ros_processes.start(topic_listener('/skeletons', bag_io.SKELETON_ARRAY_TYPE, count),
                              ros_env)
    pub = ros_processes.start(_replay_cmd(bag), ros_env)
    rc, out, err = ros_processes.wait(sub, timeout=40)
    assert rc == 0, (err, ros_processes.output(pub))
    rc, pub_out, pub_err = ros_processes.wait(pub, timeout=10)
    assert rc == 0 and f'published {count} messages' in pub_out, (pub_out, pub_err)
    rows = json_lines(out)
    errors = np.abs(_gap_errors_ms(rows))
    drift = ((rows[-1]['recv_ns'] - rows[0]['recv_ns'])
             - (rows[-1]['stamp_ns'] - rows[0]['stamp_ns'])) / 1e6
    figures = {'mean': errors.mean(), 'p95': np.percentile(errors, 95), 'max': errors.max(),
               'drift': drift}
    print('replay gap error: ' + ', '.join(f'{k} {v:.2f} ms' for k, v in figures.items()))
    return rows, figures


@pytest.mark.ros_domain(44)
def test_replay_delivers_every_message_in_order(tmp_path: Path, ros_env, ros_processes,
                                                topic_listener, json_lines, digest) -> None:
    from rclpy.serialization import deserialize_message
    from emotion_node.msg import SkeletonArray
    tracks = _tracks(lengths=(90,))  # 3 s at 30 Hz
    bag_io.write_bag(tmp_path / 'bag', tracks, 'mcap', 'skeleton')
    expected = [(ns, digest(deserialize_message(raw, SkeletonArray)))
                for _, _, ns, raw in bag_io.read_bag_raw(tmp_path / 'bag')]
    rows, _ = _timed_replay(tmp_path / 'bag', ros_env, ros_processes, topic_listener,
                            json_lines, 90)
    assert [(r['stamp_ns'], r['digest']) for r in rows] == expected  # all, exact, in order
    arrived = [r['recv_ns'] for r in rows]
    assert arrived == sorted(arrived)


class _VirtualClock:
    """Stands in for the `time` module of the replay: sleeping moves the clock on at once."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


class _Recorder:
    """A node and publishers that note (virtual time, topic) of every publish."""

    def __init__(self, clock: _VirtualClock) -> None:
        from types import SimpleNamespace
        self.clock, self.sent = clock, []
        self.context = SimpleNamespace(ok=lambda: True)

    def create_publisher(self, cls, topic, qos):
        from types import SimpleNamespace
        return SimpleNamespace(
            publish=lambda msg: self.sent.append((self.clock.now, topic, msg)),
            wait_for_all_acked=lambda timeout: True, get_subscription_count=lambda: 1,
            topic_name=topic)

    def get_logger(self):
        raise AssertionError('nothing to warn about')


@pytest.mark.parametrize('rate', [1.0, 2.0, 0.5])
def test_replay_schedule_follows_the_stamps_and_the_rate(tmp_path: Path, monkeypatch,
                                                        rate: float) -> None:
    # The player's own timing, on a virtual clock: the same on any machine, however busy.
    from emotion_node.ros import replay
    clock = _VirtualClock()
    monkeypatch.setattr(replay, 'time', clock)
    tracks = _tracks(lengths=(30,))
    tracks[0].fps = 25.0
    bag_io.write_bag(tmp_path / 'bag', tracks, 'mcap', 'skeleton', start_ns=7 * 10**9)
    node = _Recorder(clock)
    player = replay.BagPlayer(node, tmp_path / 'bag', replay.ReplayOptions(
        rate=rate, loop=False, clock=True, clock_hz=10.0))
    start = clock.now
    assert player.play() == 30
    skeletons = [(t, m) for t, topic, m in node.sent if topic != replay.CLOCK_TOPIC]
    offsets = np.array([t - start for t, _ in skeletons])
    np.testing.assert_allclose(offsets, np.arange(30) / 25.0 / rate, atol=1e-9)
    ticks = [(t, m.clock.sec + m.clock.nanosec * 1e-9) for t, topic, m in node.sent
             if topic == replay.CLOCK_TOPIC]
    assert len(ticks) >= int(29 / 25.0 / rate * 10.0)  # at clock_hz of wall time
    for t, bag_time in ticks:  # bag time runs `rate` times as fast as the wall clock
        assert bag_time == pytest.approx(7.0 + (t - start) * rate, abs=1e-6)


@pytest.mark.ros_domain(45)
def test_replay_rate_clock_and_best_effort(tmp_path: Path, ros_env, ros_processes,
                                           topic_listener, json_lines, digest) -> None:
    from rclpy.serialization import deserialize_message
    from visualization_msgs.msg import MarkerArray
    bag_io.write_bag(tmp_path / 'bag', _tracks(lengths=(30,)), 'sqlite3', 'markers',
                     start_ns=5 * 10**9)
    recorded = [digest(deserialize_message(raw, MarkerArray))
                for _, _, _, raw in bag_io.read_bag_raw(tmp_path / 'bag')]
    # Best effort may drop a message: expect most of the 30, in the recorded order.
    sub = ros_processes.start(topic_listener(bag_io.DEFAULT_MARKER_TOPIC, bag_io.MARKER_ARRAY_TYPE,
                                             25, qos='best_effort'), ros_env)
    clock = ros_processes.start(topic_listener('/clock', 'rosgraph_msgs/msg/Clock', 5), ros_env)
    ros_processes.start(_replay_cmd(tmp_path / 'bag', '--rate', '2', '--clock'), ros_env)
    rc, out, err = ros_processes.wait(sub, timeout=60)
    assert rc == 0, err
    order = [recorded.index(r['digest']) for r in json_lines(out)]
    assert len(order) >= 25 and order == sorted(set(order))
    rc, out, err = ros_processes.wait(clock, timeout=30)
    assert rc == 0, err
    ticks = [r['stamp_ns'] for r in json_lines(out)]
    assert ticks == sorted(ticks) and 5 * 10**9 <= ticks[0] <= 6 * 10**9  # bag time, not wall


@pytest.mark.ros_domain(46)
def test_replay_loop_stops_cleanly_on_ctrl_c(tmp_path: Path, ros_env, ros_processes,
                                             topic_listener) -> None:
    bag_io.write_bag(tmp_path / 'bag', _tracks(lengths=(10,)), 'mcap', 'skeleton')
    sub = ros_processes.start(topic_listener('/skeletons', bag_io.SKELETON_ARRAY_TYPE, 25),
                              ros_env)
    pub = ros_processes.start(_replay_cmd(tmp_path / 'bag', '--loop'), ros_env)
    rc, _, err = ros_processes.wait(sub, timeout=40)  # 25 messages > one 10-message pass
    assert rc == 0, err
    ros_processes.signal(pub, signal.SIGINT)
    started = time.monotonic()
    rc, out, err = ros_processes.wait(pub, timeout=5)
    assert rc == 0, err
    assert time.monotonic() - started < 5.0
    assert 'published' in out and 'Traceback' not in err


VIDEO = sample_video()


@pytest.mark.skipif(not VIDEO.is_file(), reason='the test video is absent')
def test_a_video_becomes_camera_images(tmp_path: Path, capsys) -> None:
    """`bag --video`: every frame of the segment, rgb8, stamped at its time in the video."""
    from emotion_node.camera.video import VideoFrames
    out = tmp_path / 'images'
    assert cli.main(['bag', '--video', str(VIDEO), '--out', str(out), '--video-start', '8',
                     '--duration', '1', '--start-time', '100']) == 0
    assert '10 messages on /image_raw [sensor_msgs/msg/Image]' in capsys.readouterr().out
    images = [(topic, msg) for topic, _, msg in bag_io.read_bag(out)]
    frames = VideoFrames(VIDEO, 8.0, 9.0)
    try:
        for k, ((topic, msg), (_, rgb)) in enumerate(zip(images, frames, strict=True)):
            assert topic == '/image_raw' and msg.encoding == 'rgb8'
            assert msg.header.frame_id == 'camera_optical_frame'
            assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (100, k * 100_000_000)
            assert (msg.height, msg.width, msg.step) == (*rgb.shape[:2], 3 * rgb.shape[1])
            assert np.array_equal(np.asarray(msg.data).reshape(rgb.shape), rgb)
    finally:
        frames.close()


@pytest.mark.parametrize('argv, code, message', [
    (['bag', '--out', '{tmp}/b'], 2, 'BVH clips or --video'),
    (['bag', '{clip}', '--video', '{clip}', '--out', '{tmp}/b'], 2, 'BVH clips or --video'),
    (['bag', '--video', '/no/such.mp4', '--out', '{tmp}/b'], 1, 'not found'),
    (['bag', '--video', '{clip}', '--out', '{tmp}/b'], 1, 'not a video'),
    (['bag', '--video', '{clip}', '--out', '{tmp}/b', '--duration', '0'], 2, '--duration'),
])
def test_bad_video_bags_are_refused(tmp_path: Path, clips: list[Path], capsys, argv, code,
                                    message) -> None:
    argv = [a.format(clip=clips[0], tmp=tmp_path) for a in argv]
    assert cli.main(argv) == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'b').exists()
