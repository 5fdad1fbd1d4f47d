"""The camera node over DDS: the real video through the camera node into the emotion node, and
bad images counted on /diagnostics without a crash.

The video (tests/data/video/README.md: real people walking into an office one at a time, CC BY
4.0) plays seconds 3 to 31: an empty room, person 1, the empty room again, person 2.
"""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import CameraInfo, Image

from emotion_node.camera.video import sample_video
from emotion_node.msg import EmotionState, PersonEmotion, SkeletonArray
from emotion_node.ros.node_main import node_command

pytest.importorskip('mediapipe')

VIDEO = sample_video()
SEGMENT = (3.0, 31.0)  # seconds of the video played
READY_S = 120.0        # model loading on a busy machine
TOPIC = '/camera_test/skeletons'  # not /skeletons: a parallel suite's replays stay out


class Probe:
    """Records skeletons, emotion states and the camera node's diagnostics in one domain."""

    def __init__(self, domain: int) -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node('camera_test_probe', context=self.context)
        self.skeletons: List[SkeletonArray] = []
        self.states: List[EmotionState] = []
        self.camera_diagnostics: List[Dict[str, str]] = []
        self.node.create_subscription(SkeletonArray, TOPIC, self.skeletons.append, 1000)
        self.node.create_subscription(EmotionState, '/emotion_state', self.states.append,
                                      QoSProfile(depth=1000,
                                                 durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 100)
        self.images = self.node.create_publisher(Image, '/test/image', 10)
        self.infos = self.node.create_publisher(CameraInfo, '/test/camera_info', 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith('camera_node'):
                self.camera_diagnostics.append({kv.key: kv.value for kv in status.values})

    def spin_until(self, predicate, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not predicate():
            self.executor.spin_once(timeout_sec=0.02)
        return bool(predicate())

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def probe(ros_env):
    """A Probe in the test's domain (the ros_domain marker, shifted as the suite asks)."""
    recorder = Probe(int(ros_env['ROS_DOMAIN_ID']))
    try:
        yield recorder
    finally:
        recorder.close()


def _stamp_s(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def _ids_per_frame(skeletons: List[SkeletonArray]) -> List[tuple]:
    """(seconds into the video, ids) per message: stamps are the first frame's plus video time."""
    first = _stamp_s(skeletons[0])
    return [(SEGMENT[0] + _stamp_s(m) - first, [s.body_id for s in m.skeletons])
            for m in skeletons]


@pytest.mark.skipif(not VIDEO.is_file(), reason=f'test video absent: {VIDEO}')
@pytest.mark.ros_domain(75)
def test_real_video_through_the_camera_node_into_the_emotion_node(ros_env, ros_processes,
                                                                   probe):
    from emotion_node.camera.annotations import annotations_of, read_intervals, score
    emotion = ros_processes.start(node_command({'input.up_axis': '-y', 'input.topic': TOPIC,
                                                'llm.enabled': False}), ros_env)
    assert probe.spin_until(lambda: probe.states or emotion.poll() is not None, READY_S), \
        ros_processes.output(emotion)
    camera = ros_processes.start(
        [sys.executable, '-m', 'emotion_node', 'camera', '--video', str(VIDEO),
         '--start', str(SEGMENT[0]), '--end', str(SEGMENT[1]), '--wait-for-subscribers', '2',
         '--ros-args', '-p', f'output.topic:={TOPIC}'], ros_env)  # probe and emotion node
    assert probe.spin_until(lambda: camera.poll() is not None, READY_S + 60), 'camera hangs'
    probe.spin_until(lambda: False, 2.0)  # the last states after the last frame
    assert camera.returncode == 0, ros_processes.output(camera)
    assert emotion.poll() is None, ros_processes.output(emotion)  # nothing crashed

    final = probe.camera_diagnostics[-1]
    assert int(final['processed']) == len(probe.skeletons) == 10 * (SEGMENT[1] - SEGMENT[0])
    assert all(m.header.frame_id == 'camera_optical_frame' and
               all(s.layout == 'mediapipe33' and len(s.positions) == 33 for s in m.skeletons)
               for m in probe.skeletons)
    frames = _ids_per_frame(probe.skeletons)
    scores, false_share = score(frames, read_intervals(annotations_of(VIDEO)))
    followed = {who: s for who, s in scores.items() if s.frames}
    assert set(followed) == {'1', '2'}
    assert all(s.share >= 0.9 for s in followed.values()), followed
    assert len({s.main_id for s in followed.values()}) == 2
    assert sum(not ids for _, ids in frames) >= 30 and false_share < 0.05  # the empty room

    labelled = {p.body_id for st in probe.states for p in st.persons
                if p.status == PersonEmotion.STATUS_OK}
    assert {s.main_id for s in followed.values()} <= labelled, (labelled, followed)


def _image(encoding: str, width: int, height: int, step: int, data: bytes,
           stamp=(0, 0)) -> Image:
    msg = Image(encoding=encoding, width=width, height=height, step=step, data=data)
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = 'test_camera'
    return msg


@pytest.mark.ros_domain(76)
def test_bad_images_are_counted_on_diagnostics_and_good_ones_keep_their_stamps(
        ros_env, ros_processes, probe):
    camera = ros_processes.start(
        [sys.executable, '-m', 'emotion_node', 'camera', '--image-topic', '/test/image',
         '--ros-args', '-p', 'diagnostics.period_s:=0.2', '-p', f'output.topic:={TOPIC}'],
        ros_env)
    assert probe.spin_until(lambda: probe.images.get_subscription_count() > 0 or
                            camera.poll() is not None, READY_S), ros_processes.output(camera)
    gray = np.full((48, 64, 3), 128, np.uint8)
    bad = {'encoding': [_image('16UC1', 64, 48, 128, bytes(128 * 48)),
                        _image('yuv422', 64, 48, 128, bytes(128 * 48))],
           'empty': [_image('rgb8', 0, 0, 0, b'')],
           'size': [_image('rgb8', 64, 48, 192, gray.tobytes()[:-5])],
           'too_small': [_image('rgb8', 8, 8, 24, bytes(24 * 8))]}
    for sent, image in enumerate((i for images in bad.values() for i in images), start=1):
        probe.images.publish(image)  # one at a time: a newer image would replace a waiting one
        assert probe.spin_until(lambda n=sent: probe.camera_diagnostics and int(
            probe.camera_diagnostics[-1].get('images', 0)) >= n, 30.0)
    assert probe.camera_diagnostics[-1]['intrinsics'] == 'hfov'  # no camera_info yet
    # The camera's own matrix, beside the image topic: a broken one is refused and counted.
    for k in ([0.0] * 9, [60.0, 0, 32, 0, 60.0, 24, 0, 0, 1]):
        probe.infos.publish(CameraInfo(width=64, height=48, k=k))
    assert probe.spin_until(lambda: int(probe.camera_diagnostics[-1].get(
        'camera_info.received', 0)) >= 2, 30.0), probe.camera_diagnostics[-1]
    probe.images.publish(_image('rgb8', 64, 48, 192, gray.tobytes(), stamp=(1234, 5678)))
    assert probe.spin_until(lambda: probe.skeletons, 30.0), ros_processes.output(camera)
    assert probe.spin_until(lambda: int(probe.camera_diagnostics[-1].get('processed', 0)) >= 1,
                            30.0)
    latest = probe.camera_diagnostics[-1]
    for reason, images in bad.items():
        assert int(latest[f'dropped.{reason}']) == len(images), latest
    assert latest['camera_info.rejected'] == '1' and latest['intrinsics'] == 'camera_info'
    out = probe.skeletons[-1]
    assert (out.header.stamp.sec, out.header.stamp.nanosec) == (1234, 5678)
    assert out.header.frame_id == 'test_camera' and out.skeletons == []  # nobody in grey
    assert camera.poll() is None
    camera.send_signal(signal.SIGINT)
    rc, _, err = ros_processes.wait(camera, 30.0)
    assert rc == 0, err
    assert 'image dropped (encoding)' in err and 'camera_info ignored' in err


@pytest.mark.ros_domain(76)
def test_the_ros2_run_entry_point_refuses_a_bad_parameter_by_name(ros_env, ros_processes):
    script = Path(__file__).resolve().parents[2] / 'scripts' / 'camera_node'
    proc = ros_processes.start([sys.executable, str(script), '--ros-args', '-p',
                                'pose.num_poses:=0'], ros_env)
    rc, _, err = ros_processes.wait(proc, 60.0)
    assert rc == 2 and 'pose.num_poses must be in [1, 16]' in err, err
