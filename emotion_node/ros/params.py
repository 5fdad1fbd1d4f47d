"""The node's parameters: one dataclass with defaults, descriptions, ranges and run-time safety.

Field names map to ROS names by their group prefix: `input_topic` is `input.topic`. The YAML file
`config/emotion_node.yaml` lists the same keys (a test keeps them in step).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable, Dict, Optional, Tuple

from emotion_node.ros.inputs import INPUT_KINDS
from emotion_node.runtime.backends import BACKENDS, DEVICES

# Parameter groups: the part of a field name before its first underscore becomes `group.`.
GROUPS: Tuple[str, ...] = (
    'input', 'window', 'inference', 'people', 'model', 'smoothing', 'output', 'diagnostics', 'llm')
INPUT_TYPES = tuple(INPUT_KINDS)
RELIABILITIES = ('best_effort', 'reliable')
UP_AXES = ('z', '-z', 'y', '-y', 'x', '-x')
TF_BACKENDS = ('auto', 'tf2', 'builtin')


def _p(default: Any, description: str, *, low: Optional[float] = None,
       high: Optional[float] = None, choices: Tuple[str, ...] = (),
       runtime: bool = False) -> Any:
    """Declare one parameter field; `runtime` marks it safe to change while configured."""
    meta = {'description': description, 'low': low, 'high': high, 'choices': choices,
            'runtime': runtime}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class NodeParams:
    """Every parameter of the emotion node, with its default."""

    input_type: str = _p('skeleton', 'input message: "skeleton" (emotion_node/SkeletonArray), '
                         '"markers" (Azure Kinect / Orbbec visualization_msgs/MarkerArray), '
                         '"zed" (Stereolabs zed_msgs/ObjectsStamped), "yolo" (yolo_ros '
                         'yolo_msgs/DetectionArray) or "hri" (ROS4HRI bodies: hri_msgs/IdsList '
                         'of tracked ids, joints on /tf and /tf_static); zed, yolo and hri need '
                         'their message packages', choices=INPUT_TYPES)
    input_topic: str = _p('', 'input topic; empty: the default of input.type, the topic '
                          '`emotion-node bag` writes (/skeletons, /body_tracking_data, '
                          '/zed/zed_node/body_trk/skeletons, /yolo/detections_3d, '
                          '/humans/bodies/tracked)')
    input_fixed_frame: str = _p('', 'hri input: the frame joints are read in (a fixed one: map, '
                                'odom, or a still robot\'s base_link); empty: the frame each '
                                'body\'s root body_<id> is published in (the camera\'s)')
    input_tf_backend: str = _p('auto', 'hri input: "tf2" (tf2_ros\'s buffer), "builtin" (this '
                               'package\'s, no tf2 needed) or "auto" (tf2 where installed)',
                               choices=TF_BACKENDS)
    input_tf_max_age_s: float = _p(0.1, 'hri input: a joint\'s transforms may be this far from '
                                   'the body\'s stamp (s); further, the joint is stale and '
                                   'masked (never extrapolated)', low=0.0, high=10.0)
    input_reliability: str = _p('best_effort', 'input QoS reliability; best_effort matches '
                                'reliable and best-effort publishers', choices=RELIABILITIES)
    # Deep enough to ride out a busy moment: with one executor thread, inputs wait in this DDS
    # history while a tick runs, and what overflows it is lost without a word from DDS (the node
    # counts it as messages_missed). 100 is 3.3 s of a 30 Hz tracker.
    input_depth: int = _p(100, 'input QoS history depth (messages)', low=1, high=1000)
    input_queue_size: int = _p(64, 'input messages waiting for the next inference tick; more '
                               'are dropped and counted', low=1, high=10000)
    input_up_axis: str = _p('z', 'up axis of the tracker frame, rotated to Z-up ("z": REP-103; '
                            '"-y": camera optical frame)', choices=UP_AXES, runtime=True)
    input_min_confidence: float = _p(0.0, 'joints below this confidence are masked', low=0.0,
                                     high=1.0, runtime=True)
    input_max_future_s: float = _p(0.5, 'skeleton stamps further than this ahead of the node '
                                   'clock are rejected (s)', low=0.0, high=3600.0, runtime=True)
    window_length_s: float = _p(4.0, 'seconds of skeleton frames kept per person; at least the '
                                'model window (window_frames / fps of the model config)',
                                low=0.5, high=60.0)
    window_min_frames: int = _p(15, 'model-rate frames a person needs before the first label '
                                '(warming up until then; the rest of the window is masked)',
                                low=2, high=1000, runtime=True)
    window_min_joint_fraction: float = _p(0.55, 'a person is labelled only while at least this '
                                          'fraction of the 21 canonical joints is observed '
                                          'over the window (PersonEmotion.valid_joint_fraction); '
                                          'below it they stay warming up (12 of 21 joints: '
                                          'held-out accuracy falls steeply below, EVALUATION.md)',
                                          low=0.0, high=1.0, runtime=True)
    inference_rate_hz: float = _p(15.0, 'labels are inferred this often per second of '
                                  'skeleton time (everyone with new frames in one batch); '
                                  'without input, the state is published at this rate',
                                  low=0.1, high=200.0, runtime=True)
    inference_on_input: bool = _p(False, 'infer on every input message instead (labels one '
                                  'message fresher; the cost grows with the input rate)',
                                  runtime=True)
    people_max_persons: int = _p(32, 'most people tracked at once; bodies beyond it are '
                                 'rejected (bounds memory whatever ids arrive)', low=1, high=1000)
    people_lost_timeout_s: float = _p(1.0, 'a person not seen for this long is reported lost, '
                                      'then removed (s)', low=0.05, high=600.0, runtime=True)
    people_baseline: str = _p('off', 'read each person against their own baseline (the running '
                              'mean of their scores): "auto" once people.baseline_min_s of them '
                              'has been seen (PersonEmotion.baseline_relative), "off": the '
                              'absolute model; off by default: on new walkers it moved the '
                              'perceived label by -1 to +3 points (EVALUATION.md)',
                              choices=('off', 'auto'), runtime=True)
    people_baseline_strength: float = _p(0.5, 'share of the person\'s offset from the '
                                         'population the relative reading removes', low=0.0,
                                         high=1.0, runtime=True)
    people_baseline_min_s: float = _p(10.0, 'seconds of a person seen before their baseline '
                                      'is used', low=0.0, high=3600.0, runtime=True)
    people_baseline_tau_s: float = _p(120.0, 'time constant of the running baseline once it is '
                                      'that old (s): a long emotional episode moves it slowly',
                                      low=1.0, high=86400.0, runtime=True)
    people_baseline_max_shift: float = _p(1.5, 'bound on how far a baseline moves any label\'s '
                                          'log-probability', low=0.0, high=10.0, runtime=True)
    people_baseline_keep_s: float = _p(300.0, 'a person who leaves and comes back within this '
                                       'keeps their baseline (s)', low=0.0, high=86400.0,
                                       runtime=True)
    people_baseline_max_people: int = _p(200, 'most baselines kept (the least recently seen '
                                         'person\'s goes first)', low=1, high=100000)
    model_path: str = _p('', 'tokenizer model directory (model.safetensors + config.json); '
                         'empty: the package default models/default')
    model_backend: str = _p('auto', 'inference backend; unavailable ones fall back to the next',
                            choices=BACKENDS)
    model_device: str = _p('cpu', 'inference device', choices=DEVICES)
    model_fp16: bool = _p(False, 'TensorRT only: build and cache an fp16 engine (faster on '
                          'Jetson and desktop GPUs; other backends run float32)')
    smoothing_enabled: bool = _p(True, 'smooth scores over time and switch labels with '
                                 'hysteresis', runtime=True)
    smoothing_tau_s: float = _p(1.0, 'time constant of the exponential score smoothing (s)',
                                low=0.0, high=60.0, runtime=True)
    smoothing_margin: float = _p(0.1, 'a new label must beat the current one by this much '
                                 'smoothed probability', low=0.0, high=1.0, runtime=True)
    smoothing_min_hold_s: float = _p(1.0, 'a label is kept at least this long before it may '
                                     'change (s)', low=0.0, high=60.0, runtime=True)
    smoothing_neutral_below: float = _p(0.7, 'a label other than neutral is published only '
                                        'while its smoothed probability reaches this, else '
                                        'neutral (0 = off; fewer false emotions on unfamiliar '
                                        'actions for fewer true ones, EVALUATION.md)',
                                        low=0.0, high=1.0, runtime=True)
    output_topic: str = _p('emotion_state', 'EmotionState topic (reliable, transient local, '
                           'depth 1); relative names follow the node namespace')
    output_marker_topic: str = _p('emotion_markers', 'visualization_msgs/MarkerArray topic with '
                                  'a text label above each head')
    output_state_on_input: bool = _p(True, 'publish /emotion_state after every input message '
                                     '(newest stamps and statuses, labels of the latest '
                                     'inference); false: only when labels are inferred or '
                                     'someone goes lost', runtime=True)
    output_markers: bool = _p(True, 'publish the RViz / Foxglove text markers', runtime=True)
    output_frame_id: str = _p('', 'frame_id of the outputs; empty: the tracker frame',
                              runtime=True)
    output_hri: bool = _p(False, 'also publish ROS4HRI hri_msgs/Expression per body on '
                          '/humans/bodies/<body_id>/expression (needs hri_msgs)')
    output_marker_height: float = _p(0.35, 'height of the text label above the head (m)',
                                     low=0.0, high=5.0, runtime=True)
    diagnostics_period_s: float = _p(1.0, '/diagnostics period (s)', low=0.1, high=60.0)
    llm_enabled: bool = _p(False, 'explain each person\'s label in words with the LLM, in a '
                           'process of its own')
    llm_period_s: float = _p(10.0, 'explain a person again after this long even when the label '
                             'did not change (s)', low=1.0, high=3600.0, runtime=True)
    llm_timeout_s: float = _p(10.0, 'give up on one explanation after this long (s)', low=0.5,
                              high=600.0)
    llm_model_dir: str = _p('', 'explainer directory (projector + LoRA adapter); empty: '
                            '<model.path>/explainer')
    llm_threads: int = _p(1, 'CPU threads of the explainer process (generation)', low=1,
                          high=64)
    llm_nice: int = _p(10, 'nice level of the explainer process: above 0 it yields the CPU to '
                       'the node (and to everything else) when cores are short', low=0, high=19)
    autostart: bool = _p(False, 'configure and activate at start-up without a lifecycle '
                         'manager (the launch file does this with lifecycle events instead)')

    def __post_init__(self) -> None:
        """Check choices and ranges; ValueError names the parameter and value."""
        for f in fields(self):
            check_value(f.name, getattr(self, f.name))

    def ros_dict(self) -> Dict[str, Any]:
        """Return {ros_name: value}."""
        return {ros_name(k): v for k, v in asdict(self).items()}

    def resolved_input_topic(self) -> str:
        """The input topic, with the input type's default when empty."""
        return self.input_topic or INPUT_KINDS[self.input_type].default_topic

    def with_values(self, values: Dict[str, Any]) -> 'NodeParams':
        """Return a copy with some values replaced, keyed by ROS name."""
        return replace(self, **{field_name(k): v for k, v in values.items()})


def ros_name(name: str) -> str:
    """Map a field name to its ROS parameter name (`input_topic` -> `input.topic`)."""
    group, _, rest = name.partition('_')
    return f'{group}.{rest}' if group in GROUPS and rest else name


def field_name(ros: str) -> str:
    """Map a ROS parameter name to its field name; ValueError for unknown names."""
    name = ros.replace('.', '_', 1) if '.' in ros else ros
    if name not in _FIELDS or ros_name(name) != ros:
        raise ValueError(f'unknown parameter {ros!r}')
    return name


def check_value(name: str, value: Any) -> None:
    """Raise ValueError when `value` is outside the field's choices or range."""
    meta = _FIELDS[name].metadata
    shown = ros_name(name)
    if meta['choices'] and value not in meta['choices']:
        raise ValueError(f'parameter {shown} = {value!r} is not one of {list(meta["choices"])}')
    low, high = meta['low'], meta['high']
    if low is not None and not low <= value <= high:
        raise ValueError(f'parameter {shown} = {value!r} is outside [{low}, {high}]')


def is_runtime_safe(ros: str) -> bool:
    """True when the parameter may change while the node is configured."""
    return bool(_FIELDS[field_name(ros)].metadata['runtime'])


def describe() -> Dict[str, Dict[str, Any]]:
    """Return {ros_name: {default, type, description, low, high, choices, runtime}}."""
    return {ros_name(f.name): dict(f.metadata, default=f.default, type=type(f.default))
            for f in fields(NodeParams)}


def descriptor(name: str, info: Dict[str, Any]) -> Any:
    """Build the rcl_interfaces ParameterDescriptor of one parameter."""
    from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                    ParameterType)
    kinds = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    desc = ParameterDescriptor(name=name, type=kinds[info['type']],
                               description=info['description'],
                               # `off` may come as false
                               dynamic_typing=_takes_yaml_off(info['default'], info['choices']))
    if info['choices']:
        desc.additional_constraints = 'one of: ' + ', '.join(info['choices'])
    if not info['runtime']:
        desc.additional_constraints = (desc.additional_constraints + '; ' if
                                       desc.additional_constraints else '') + \
            'read at configure: change it while unconfigured'
    if info['low'] is not None and info['type'] is float:
        desc.floating_point_range = [FloatingPointRange(
            from_value=float(info['low']), to_value=float(info['high']), step=0.0)]
    elif info['low'] is not None and info['type'] is int:
        desc.integer_range = [IntegerRange(
            from_value=int(info['low']), to_value=int(info['high']), step=1)]
    return desc


def declare_all(node: Any) -> None:
    """Declare every parameter on `node` with its descriptor (description, range, choices)."""
    node.declare_parameters('', [(name, info['default'], descriptor(name, info))
                                 for name, info in describe().items()])


def parse_assignment(text: str) -> Tuple[str, Any]:
    """'inference.on_input:=true' (as after `-p`) -> (ROS name, value of the declared type);
    ValueError names a bad name or value."""
    name, sep, raw = text.partition(':=')
    if not sep:
        raise ValueError(f'expected NAME:=VALUE, got {text!r}')
    kind: Callable[[str], Any] = type(_FIELDS[field_name(name)].default)
    try:
        if kind is bool:
            if raw.lower() not in ('true', 'false'):
                raise ValueError(raw)
            value: Any = raw.lower() == 'true'
        else:
            value = kind(raw)
    except ValueError:
        raise ValueError(f'parameter {name} is of type {kind.__name__}, got {raw!r}') from None
    check_value(field_name(name), value)
    return name, value


def _takes_yaml_off(default: Any, choices: Tuple[str, ...]) -> bool:
    """A string parameter one of whose choices is `off`, which YAML 1.1 (and so `-p NAME:=off`
    on a ROS command line) reads as the boolean false."""
    return isinstance(default, str) and 'off' in choices


def normalize(ros: str, value: Any) -> Any:
    """A value as the parameter means it: false for a parameter with an `off` choice is
    `off` (what `-p people.baseline:=off` delivers); anything else unchanged."""
    f = _FIELDS[field_name(ros)]
    return 'off' if value is False and _takes_yaml_off(f.default, f.metadata['choices']) \
        else value


def read_all(get_value: Callable[[str], Any]) -> NodeParams:
    """Build NodeParams from `get_value(ros_name)`; ValueError names a bad parameter."""
    values: Dict[str, Any] = {}
    for f in fields(NodeParams):
        value = normalize(ros_name(f.name), get_value(ros_name(f.name)))
        if isinstance(f.default, float) and isinstance(value, int) and \
                not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(f.default):
            raise ValueError(f'parameter {ros_name(f.name)} must be '
                             f'{type(f.default).__name__}, got {value!r}')
        values[f.name] = value
    return NodeParams(**values)


_FIELDS = {f.name: f for f in fields(NodeParams)}
