"""MediaPipe Pose, several people at once, from the model files the `mediapipe` wheel ships.

The 0.10.x wheels carry the legacy solution's two networks (a person detector and the full
33-landmark model) but no `.task` bundle for the multi-person PoseLandmarker, and newer wheels
download their models, which fails offline. So the bundle is assembled here from the shipped
files: each network gets the input-normalisation metadata the Tasks graph reads ([-1, 1] for the
detector, [0, 1] for the landmark model, as the legacy graph feeds them), and the two go into a
zip under the names the graph expects. The graph itself runs through `CalculatorGraph`: with a
protobuf newer than the wheel was built for (6.x and 7.x tried; onnx needs >= 6.31.1) its
bindings print "'MessageFactory' object has no attribute 'GetPrototype'" once when imported,
the Tasks API's own runner then rejects the graph config as an incompatible argument, and the
legacy `mp.solutions.pose` fails on 7.x; `CalculatorGraph` and the packet getters work on both
(they serialise the protos).
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional

import numpy as np

from emotion_node.cache import cache_root

NUM_LANDMARKS = 33  # MediaPipe Pose, the `mediapipe33` layout's joint order
GRAPH = 'mediapipe.tasks.vision.pose_landmarker.PoseLandmarkerGraph'
# bundle member -> (file under mediapipe/modules, input mean, input std, output tensors)
BUNDLE_MEMBERS = {
    'pose_detector.tflite': ('pose_detection/pose_detection.tflite', 127.5, 127.5, 2),
    'pose_landmarks_detector.tflite': ('pose_landmark/pose_landmark_full.tflite', 0.0, 255.0, 5),
}


class PoseModelUnavailable(RuntimeError):
    """mediapipe is missing, or its wheel ships no pose model files."""


@dataclass(frozen=True)
class PoseConfig:
    """How the pose graph runs."""

    num_poses: int = 4                     # most people found in one image
    # person detector score to start a person: at 0.5 the third of three walkers side by side
    # went unfound in every frame (bench camera), at 0.3 none; false people in the empty room
    # of the test video 1.8 % of frames (1.2 % at 0.5), the walkers still 99 % followed
    min_detection_confidence: float = 0.3
    min_presence_confidence: float = 0.5   # landmark model's "a person is here" to keep one
    min_tracking_confidence: float = 0.5   # below it the detector runs again for that person

    def __post_init__(self) -> None:
        if self.num_poses < 1:
            raise ValueError(f'num_poses must be >= 1, got {self.num_poses}')
        for name in ('min_detection_confidence', 'min_presence_confidence',
                     'min_tracking_confidence'):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {value}')


@dataclass
class Pose:
    """One person in one image."""

    image_xy: np.ndarray    # (33, 2) pixels, x right, y down
    world: np.ndarray       # (33, 3) metres around the hip centre, camera axes (x right, y down)
    visibility: np.ndarray  # (33,) in [0, 1]: the model's belief the landmark is visible


def shipped_model_dir() -> Path:
    """mediapipe/modules of the installed wheel, found without importing mediapipe."""
    spec = importlib.util.find_spec('mediapipe')
    if spec is None or not spec.submodule_search_locations:
        raise PoseModelUnavailable('mediapipe is not installed (ros2_ws/models.txt: '
                                   'mediapipe==0.10.21, installed with --no-deps)')
    modules = Path(list(spec.submodule_search_locations)[0]) / 'modules'
    missing = [rel for rel, *_ in BUNDLE_MEMBERS.values() if not (modules / rel).is_file()]
    if missing:
        raise PoseModelUnavailable(f'the installed mediapipe ships no {missing} under {modules} '
                                   '(only the 0.10.21 and older wheels carry them)')
    return modules


def _with_input_metadata(model: bytes, mean: float, std: float, outputs: int) -> bytes:
    """The tflite model with the image-input metadata the Tasks graph requires."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer
    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info('pose')
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for _ in range(outputs):
        writer.add_feature_output()
    return bytes(writer.populate()[0])


def task_bundle(cache: Optional[Path] = None) -> Path:
    """Path of the assembled `.task` bundle, built once per set of shipped files."""
    modules = shipped_model_dir()
    sources = {name: (modules / rel).read_bytes() for name, (rel, *_) in BUNDLE_MEMBERS.items()}
    key = hashlib.sha256(b''.join(sources.values())).hexdigest()[:16]
    path = (cache or cache_root() / 'pose') / f'pose_landmarker_{key}.task'
    if path.is_file():
        return path
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as bundle:
        for name, (_, mean, std, outputs) in BUNDLE_MEMBERS.items():
            bundle.writestr(name, _with_input_metadata(sources[name], mean, std, outputs))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.tmp')
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)  # a parallel reader never sees half a bundle
    return path


def _graph_config(bundle: Path, config: PoseConfig) -> Any:
    """The CalculatorGraphConfig of one PoseLandmarkerGraph node, streaming (tracking) mode."""
    from mediapipe.framework import calculator_pb2
    from mediapipe.tasks.cc.vision.pose_landmarker.proto import (
        pose_landmarker_graph_options_pb2 as graph_options)
    graph = calculator_pb2.CalculatorGraphConfig()
    streams_in = ['IMAGE:image_in', 'NORM_RECT:norm_rect_in']
    streams_out = ['NORM_LANDMARKS:norm_landmarks', 'WORLD_LANDMARKS:world_landmarks']
    graph.input_stream.extend(streams_in)
    graph.output_stream.extend(streams_out)
    node = graph.node.add(calculator=GRAPH)
    node.input_stream.extend(streams_in)
    node.output_stream.extend(streams_out)
    options = node.options.Extensions[graph_options.PoseLandmarkerGraphOptions.ext]
    options.base_options.model_asset.file_name = str(bundle)
    options.base_options.use_stream_mode = True
    options.pose_detector_graph_options.num_poses = config.num_poses
    options.pose_detector_graph_options.min_detection_confidence = \
        config.min_detection_confidence
    options.pose_landmarks_detector_graph_options.min_detection_confidence = \
        config.min_presence_confidence
    options.min_tracking_confidence = config.min_tracking_confidence
    return graph


class PoseEstimator:
    """Images in, people out; keeps the graph's tracking state between calls."""

    def __init__(self, config: PoseConfig = PoseConfig(), bundle: Optional[Path] = None) -> None:
        import mediapipe as mp
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python import packet_creator, packet_getter
        from mediapipe.python._framework_bindings import calculator_graph
        self.config = config
        self._mp, self._create, self._get = mp, packet_creator, packet_getter
        self._graph = calculator_graph.CalculatorGraph(
            graph_config=_graph_config(bundle or task_bundle(), config))
        self._latest: dict[str, list] = {}
        for stream in ('norm_landmarks', 'world_landmarks'):
            self._graph.observe_output_stream(stream, self._keeper(stream))
        self._whole_image = rect_pb2.NormalizedRect(x_center=0.5, y_center=0.5, width=1.0,
                                                    height=1.0)
        self._last_us = -1
        self._graph.start_run()

    def _keeper(self, stream: str) -> Any:
        def keep(_name: str, packet: Any) -> None:
            self._latest[stream] = self._get.get_proto_list(packet)
        return keep

    def estimate(self, rgb: np.ndarray, stamp_us: int) -> List[Pose]:
        """People in an RGB image (H, W, 3) uint8; stamps must grow (a repeat is nudged)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f'expected an (H, W, 3) uint8 RGB image, got {rgb.shape} '
                             f'{rgb.dtype}')
        stamp_us = max(int(stamp_us), self._last_us + 1)
        self._last_us = stamp_us
        self._latest.clear()
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB,
                               data=np.ascontiguousarray(rgb))
        self._graph.add_packet_to_input_stream(
            'image_in', self._create.create_image(image).at(stamp_us))
        self._graph.add_packet_to_input_stream(
            'norm_rect_in', self._create.create_proto(self._whole_image).at(stamp_us))
        self._graph.wait_until_idle()
        height, width = rgb.shape[:2]
        return [_to_pose(norm, world, width, height) for norm, world in
                zip(self._latest.get('norm_landmarks', []),
                    self._latest.get('world_landmarks', []))]

    def close(self) -> None:
        """Stop the graph (idempotent)."""
        if self._graph is not None:
            self._graph.close()
            self._graph = None


def _to_pose(norm: Any, world: Any, width: int, height: int) -> Pose:
    """Landmark protos -> arrays."""
    image = np.array([(p.x * width, p.y * height) for p in norm.landmark], np.float32)
    xyz = np.array([(p.x, p.y, p.z) for p in world.landmark], np.float32)
    visibility = np.array([p.visibility for p in norm.landmark], np.float32)
    return Pose(image_xy=image, world=xyz, visibility=np.clip(visibility, 0.0, 1.0))
