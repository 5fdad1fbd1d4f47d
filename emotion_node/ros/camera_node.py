"""The camera node: images (a sensor_msgs/Image topic or a video file) in, 3D skeletons out.

Each image goes through the ROS-free camera pipeline (MediaPipe Pose, several people, placed in
the camera frame, ids kept across frames) and comes out as one emotion_node/SkeletonArray in the
`mediapipe33` layout, stamped with the image's header stamp (a video's frames: the node clock
at the first frame plus their time in the file). Images that cannot be read are counted per
reason on /diagnostics and logged, throttled. `emotion-node camera` and `ros2 run emotion_node
camera_node` start it; the emotion node reads its output with `input.up_axis:=-y`. A plain
node, as camera drivers are: it works from the start, with nothing to configure at run time.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, List, Optional

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, Image

from emotion_node.camera.images import ImageRejected, to_rgb
from emotion_node.camera.pipeline import LAYOUT, CameraPipeline
from emotion_node.camera.placement import Intrinsics
from emotion_node.camera.pose_model import PoseModelUnavailable
from emotion_node.camera.video import VideoFrames
from emotion_node.msg import SkeletonArray
from emotion_node.ros.camera_params import describe, read_all
from emotion_node.ros.convert import build_layout_skeleton_array, rclpy_factory
from emotion_node.ros.stop_signals import StopSignals

SLOT_POLL_S = 0.005  # how soon a queued image is taken up
LOG_THROTTLE_S = 5.0


class CameraNode(Node):
    """Images -> SkeletonArray, with its own /diagnostics status."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('camera_node', **kwargs)
        for name, info in describe().items():
            self.declare_parameter(name, info['default'],
                                   ParameterDescriptor(description=info['description']))
        self.params = read_all(lambda name: self.get_parameter(name).value)
        self._video: Optional[VideoFrames] = None
        if self.params.video_path:
            self._video = self._open_video()
        self._pipeline = CameraPipeline(self.params.camera_config())
        self._types = rclpy_factory()
        self._pub = self.create_publisher(SkeletonArray, self.params.output_topic, 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.counts: Counter = Counter()  # images, processed, people, dropped.<reason>
        self._process_s: List[float] = []
        self._slot: Optional[Image] = None
        # the camera's own matrix and the image size it is for, from its CameraInfo
        self._camera: Optional[tuple[Intrinsics, int, int]] = None
        self._intrinsics = 'hfov'  # what placed the latest image: 'camera_info' or 'hfov'
        self._origin_ns = 0     # video: node time of the video's second 0
        self.finished = False   # video played to its end (no loop)
        if self._video is not None:
            self._timer = self.create_timer(1.0 / self._video.fps, self._on_video_frame)
        else:
            # best effort: matches camera drivers' sensor-data publishers and reliable ones
            self._sub = self.create_subscription(Image, self.params.image_topic,
                                                 self._on_image, qos_profile_sensor_data)
            self._info_sub = self.create_subscription(CameraInfo, self.params.camera_info_topic(),
                                                      self._on_camera_info,
                                                      qos_profile_sensor_data)
            self._timer = self.create_timer(SLOT_POLL_S, self._on_slot)
        self._diag_timer = self.create_timer(self.params.diagnostics_period_s,
                                             self.publish_diagnostics)

    def _open_video(self) -> VideoFrames:
        return VideoFrames(Path(self.params.video_path).expanduser(), self.params.video_start_s,
                           self.params.video_end_s)

    def _on_image(self, msg: Image) -> None:
        self.counts['images'] += 1
        if self._slot is not None:
            self.counts['dropped.superseded'] += 1  # a newer image came before this one ran
        self._slot = msg

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.counts['camera_info.received'] += 1
        try:
            camera = Intrinsics.from_matrix(list(msg.k))
        except ValueError as err:
            self.counts['camera_info.rejected'] += 1
            self.get_logger().warning(f'camera_info ignored: {err}',
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        self._camera = (camera, int(msg.width), int(msg.height))

    def _camera_for(self, width: int, height: int) -> Optional[Intrinsics]:
        """The camera's own matrix when it is for images of this size; else None (the field
        of view is assumed) and, when it is for another size, counted."""
        if self._camera is None:
            self._intrinsics = 'hfov'
            return None
        camera, info_width, info_height = self._camera
        if (info_width, info_height) != (width, height):
            self.counts['camera_info.size_mismatch'] += 1
            self.get_logger().warning(
                f'camera_info is for {info_width} x {info_height} images, this one is {width} x '
                f'{height}: placed with camera.hfov_deg', throttle_duration_sec=LOG_THROTTLE_S)
            self._intrinsics = 'hfov'
            return None
        self._intrinsics = 'camera_info'
        return camera

    def _on_slot(self) -> None:
        msg, self._slot = self._slot, None
        if msg is None:
            return
        try:
            rgb = to_rgb(msg.encoding, msg.width, msg.height, msg.step, bytes(msg.data))
        except ImageRejected as err:
            self._drop(err.reason, str(err))
            return
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self._process(rgb, stamp_ns, msg.header.frame_id, self._camera_for(msg.width, msg.height))

    def _on_video_frame(self) -> None:
        assert self._video is not None
        if not self._origin_ns and \
                self._pub.get_subscription_count() < self.params.video_wait_subscribers:
            return  # still waiting for the first frame's audience
        try:
            t, rgb = next(self._video)
        except StopIteration:
            self._video_ended()
            return
        if not self._origin_ns:
            self._origin_ns = self.get_clock().now().nanoseconds - int(t * 1e9)
        self.counts['images'] += 1
        self._process(rgb, self._origin_ns + int(t * 1e9), self.params.video_frame_id)

    def _video_ended(self) -> None:
        assert self._video is not None
        self._video.close()
        if not self.params.video_loop:
            self.get_logger().info(f'video ended after {self.counts["images"]} frames')
            self._timer.cancel()
            self.finished = True
            return
        played = self._video.end_s or self._video.frame_count / self._video.fps
        self._origin_ns += int((played - self._video.start_s) * 1e9)  # time keeps growing
        self._video = self._open_video()

    def _process(self, rgb: np.ndarray, stamp_ns: int, frame_id: str,
                 camera: Optional[Intrinsics] = None) -> None:
        start = time.perf_counter()
        try:
            people = self._pipeline.process(rgb, stamp_ns * 1e-9, camera)
        except (RuntimeError, ValueError) as err:
            self._drop('model_error', f'pose model failed: {err}')
            return
        self._process_s = (self._process_s + [time.perf_counter() - start])[-100:]
        self.counts['processed'] += 1
        self.counts['people'] += len(people)
        self.counts['with_people'] += bool(people)
        stamp = (stamp_ns // 1_000_000_000, stamp_ns % 1_000_000_000)
        self._pub.publish(build_layout_skeleton_array(
            self._types, stamp, frame_id, LAYOUT,
            [(p.body_id, p.positions, p.confidences) for p in people]))

    def _drop(self, reason: str, detail: str) -> None:
        self.counts[f'dropped.{reason}'] += 1
        self.get_logger().warning(f'image dropped ({reason}): {detail}',
                                  throttle_duration_sec=LOG_THROTTLE_S)

    def publish_diagnostics(self) -> None:
        """Publish the current status on /diagnostics (its timer's callback)."""
        self._diag_pub.publish(self.diagnostics())

    def diagnostics(self) -> DiagnosticArray:
        """The node's /diagnostics status: counts, drops per reason, processing time."""
        dropped = sum(n for k, n in self.counts.items() if k.startswith('dropped.'))
        level, message = DiagnosticStatus.OK, f'{self.counts["processed"]} images processed'
        if dropped:
            level, message = DiagnosticStatus.WARN, f'{message}, {dropped} dropped'
        if not self.counts['images']:
            level, message = DiagnosticStatus.WARN, 'no image yet'
        ms = 1e3 * float(np.median(self._process_s)) if self._process_s else float('nan')
        values = [('source', self.params.video_path or self.params.image_topic),
                  ('layout', LAYOUT), ('process_p50_ms', f'{ms:.1f}'),
                  ('intrinsics', self._intrinsics),
                  ('people_followed', str(self._pipeline.tracker.active)),
                  ('dropped_total', str(dropped))]
        values += sorted((k, str(n)) for k, n in self.counts.items())
        status = DiagnosticStatus(level=level, name=f'{self.get_name()}: camera skeletons',
                                  message=message, hardware_id='mediapipe_pose',
                                  values=[KeyValue(key=k, value=v) for k, v in values])
        return DiagnosticArray(header=self._header_now(), status=[status])

    def _header_now(self) -> Any:
        from std_msgs.msg import Header
        return Header(stamp=self.get_clock().now().to_msg())

    def close(self) -> None:
        """Stop the pose graph and release the video."""
        self._pipeline.close()
        if self._video is not None:
            self._video.close()


def main(args: Optional[List[str]] = None, stop: Optional[StopSignals] = None) -> int:
    """Run the camera node until a stop signal (or a video's end); return the exit code."""
    stop = stop if stop is not None else StopSignals()
    rclpy.init(args=sys.argv if args is None else args,
               signal_handler_options=SignalHandlerOptions.NO)
    node: Optional[CameraNode] = None
    try:
        node = CameraNode()
        stop.logger = node.get_logger()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.requested and not node.finished and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
        if node.finished:
            node.publish_diagnostics()  # the final counts
    except (ValueError, FileNotFoundError, PoseModelUnavailable, ParameterException) as err:
        print(f'camera_node: {err}', file=sys.stderr)
        return 2
    except ExternalShutdownException:
        pass
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
        stop.ignore_from_now()
    return 0

