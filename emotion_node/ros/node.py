"""The emotion node: skeleton topics in, /emotion_state out, as an rclpy lifecycle node."""
from __future__ import annotations

import functools
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, List, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.guard_condition import GuardCondition
from rclpy.lifecycle import (
    LifecycleNode, LifecyclePublisher, LifecycleState, TransitionCallbackReturn)
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import MessageInfo, Subscription
from rclpy.timer import Timer
from visualization_msgs.msg import MarkerArray

from emotion_node.msg import EmotionState
from emotion_node.srv import ResetBaseline
from emotion_node.ros import convert, inputs, outputs, params
from emotion_node.ros.hri_output import EXPRESSION_TYPE, HriExpressions
from emotion_node.ros.pipeline import EmotionPipeline, PipelineSettings, load_model
from emotion_node.runtime.loading import LoadedModel

if TYPE_CHECKING:
    from emotion_node.ros.explain_link import ExplainLink  # imported when the LLM is enabled

STAMP_FUTURE = 'stamp_future'
CONVERSION_ERROR = 'conversion_error'
LOG_THROTTLE_S = 5.0
MARKER_PERIOD_S = 0.1  # text labels at most 10 Hz: plenty for a viewer, cheaper at 30 Hz input
# Latched whole state: a late subscriber gets the newest message at once.
STATE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)


class EmotionNode(LifecycleNode):
    """Buffers each tracked body, infers all of them in one batch per tick, publishes the state."""

    def __init__(self, node_name: str = 'emotion_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        params.declare_all(self)
        self._params: Optional[params.NodeParams] = None
        self._model: Optional[LoadedModel] = None
        self._pipeline: Optional[EmotionPipeline] = None
        self._explainer: Optional[ExplainLink] = None
        self._state_pub: Optional[LifecyclePublisher] = None
        self._marker_pub: Optional[LifecyclePublisher] = None
        self._diag_pub: Optional[LifecyclePublisher] = None
        self._input_classes: List[type] = []  # one per input stream, found at configure
        self._reader: Optional[inputs.InputReader] = None  # new at each activation
        self._hri_class: Optional[type] = None  # hri_msgs/Expression with output.hri
        self._hri: Optional[HriExpressions] = None  # per-body publishers while active
        self._subs: List[Subscription] = []
        self._timer: Optional[Timer] = None
        self._diag_timer: Optional[Timer] = None
        self._wake: Optional[GuardCondition] = None
        # (what one message gave, node time received, monotonic time received)
        self._queue: Deque[Tuple[convert.InputBatch, float, float]] = deque()
        self._stats = outputs.NodeStats()
        self._lifecycle = 'unconfigured'
        self._last_tick = 0.0  # monotonic
        self._last_markers = 0.0
        self._arrived: Optional[float] = None  # monotonic receipt of the newest drained input
        self._last_log: dict = {}
        self._tick_lock = threading.Lock()  # a tick in flight never sees the model freed
        self._input_group = MutuallyExclusiveCallbackGroup()
        self._tick_group = MutuallyExclusiveCallbackGroup()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._reset_service = self.create_service(ResetBaseline, '~/reset_baseline',
                                                  self._on_reset_baseline,
                                                  callback_group=self._tick_group)

    # --- lifecycle --------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Read parameters, load the model and backend, create the lifecycle publishers."""
        try:
            p = params.read_all(lambda name: self.get_parameter(name).value)
            self._input_classes = [inputs.import_message(msgtype, f'input.type {p.input_type}')
                                   for msgtype in inputs.INPUT_KINDS[p.input_type].msgtypes]
            self._reader = inputs.make_reader(p)  # refuses a bad setting now, not at activate
            self._hri_class = (inputs.import_message(EXPRESSION_TYPE, 'output.hri')
                               if p.output_hri else None)
            self._model = load_model(p, self.get_logger())
            self._pipeline = EmotionPipeline.from_params(self._model, p)
            self._explainer = self._start_explainer(p) if p.llm_enabled else None
        except (ValueError, RuntimeError, OSError) as err:
            self.get_logger().error(f'configure failed: {err}')
            self.close()
            return TransitionCallbackReturn.FAILURE
        self._params, self._stats = p, outputs.NodeStats()
        self._state_pub = self.create_lifecycle_publisher(EmotionState, p.output_topic,
                                                          STATE_QOS)
        self._marker_pub = self.create_lifecycle_publisher(MarkerArray, p.output_marker_topic, 1)
        self._diag_pub = self.create_lifecycle_publisher(DiagnosticArray, '/diagnostics', 10)
        self.get_logger().info(f'configured: model {self._model.directory} on '
                               f'{self._model.backend.name}, input {p.input_type} on '
                               f'{self._input_topic()}'
                               f'{", ROS4HRI expressions on" if p.output_hri else ""}')
        self._lifecycle = 'inactive'
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the input and start the inference and diagnostics timers."""
        p = self._params
        assert p is not None and self._input_classes, 'activate follows configure'
        reliability = (ReliabilityPolicy.BEST_EFFORT if p.input_reliability == 'best_effort'
                       else ReliabilityPolicy.RELIABLE)
        self._stats.forget_publishers()
        qos = QoSProfile(depth=p.input_depth, history=HistoryPolicy.KEEP_LAST,
                         reliability=reliability, durability=DurabilityPolicy.VOLATILE)
        # Latched streams (/tf_static) get what was published before the node subscribed:
        # transient local, which only a reliable reader receives.
        latched = QoSProfile(depth=p.input_depth, history=HistoryPolicy.KEEP_LAST,
                             reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._reader = inputs.make_reader(p)  # a fresh transform tree, no stale ids
        self._subs = [self.create_subscription(
            cls, stream.topic, functools.partial(self._on_input, stream=index),
            latched if stream.latched else qos, callback_group=self._input_group)
            for index, (stream, cls) in enumerate(zip(self._reader.streams, self._input_classes))]
        self._hri = HriExpressions(self, self._hri_class) if self._hri_class else None
        self._timer = self.create_timer(1.0 / p.inference_rate_hz, self._on_timer,
                                        callback_group=self._tick_group)
        self._wake = self.create_guard_condition(self._tick, callback_group=self._tick_group)
        # Diagnostics run on the steady clock so they keep flowing under an idle /clock.
        self._diag_timer = self.create_timer(p.diagnostics_period_s, self._on_diagnostics,
                                             callback_group=self._tick_group,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._lifecycle = 'active'
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop input and timers; the publishers stay (disabled) until cleanup."""
        self._stop_io()
        self._lifecycle = 'inactive'
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the publishers and free the model."""
        self._destroy_publishers()
        self.close()
        self._params = None  # read again at the next configure
        self._lifecycle = 'unconfigured'
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything from whatever state the node is in."""
        self.get_logger().info(f'lifecycle shutdown from {self._lifecycle}')
        self._stop_io()
        self._destroy_publishers()
        self.close()
        self._lifecycle = 'finalized'
        return TransitionCallbackReturn.SUCCESS

    def _stop_io(self) -> None:
        """Destroy the subscription, timers and wake-up condition; forget queued input."""
        for sub in self._subs:
            self.destroy_subscription(sub)
        for timer in (self._timer, self._diag_timer):
            if timer is not None:
                self.destroy_timer(timer)
        if self._wake is not None:
            self.destroy_guard_condition(self._wake)
        self._subs, self._timer, self._diag_timer, self._wake = [], None, None, None
        self._queue.clear()
        with self._tick_lock:  # no tick is publishing expressions meanwhile
            if self._hri is not None:
                self._hri.close()
            self._hri = None

    def _destroy_publishers(self) -> None:
        """Destroy the lifecycle publishers."""
        for pub in (self._state_pub, self._marker_pub, self._diag_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self._state_pub = self._marker_pub = self._diag_pub = None

    def close(self) -> None:
        """Stop the explainer, release the backend (sessions, GPU memory); also at exit."""
        with self._tick_lock:
            if self._explainer is not None:
                self._explainer.close()
            if self._model is not None:
                self._model.backend.close()
            self._explainer = self._model = self._pipeline = None

    def lifecycle_state(self) -> str:
        """'unconfigured', 'inactive', 'active' or 'finalized'."""
        return self._lifecycle

    def _input_topic(self) -> str:
        """The input topic (the input type's default when the parameter is empty)."""
        return self._params.resolved_input_topic() if self._params else ''

    # --- parameters -------------------------------------------------------------------------

    def _on_set_parameters(self, changes: List[Parameter]) -> SetParametersResult:
        """Apply safe run-time changes; refuse configure-time ones while configured."""
        ours = {}
        for change in changes:
            try:
                params.field_name(change.name)
            except ValueError:
                continue  # not one of ours (use_sim_time, qos overrides)
            if self._params is not None and not params.is_runtime_safe(change.name):
                return SetParametersResult(successful=False, reason=(
                    f'{change.name} is read at configure: deactivate and clean up the node, '
                    f'set it, then configure again'))
            ours[change.name] = params.normalize(change.name, change.value)
        if not ours or self._params is None:
            return SetParametersResult(successful=True)
        assert self._pipeline is not None, 'configured: the pipeline exists'
        try:
            new = self._params.with_values(ours)
            self._pipeline.apply(PipelineSettings.from_params(new))
        except (ValueError, TypeError) as err:
            return SetParametersResult(successful=False, reason=str(err))
        if self._timer is not None and new.inference_rate_hz != self._params.inference_rate_hz:
            self._timer.timer_period_ns = int(1e9 / new.inference_rate_hz)
            self._timer.reset()  # the next tick is one new period from now, not the old one
        if self._explainer is not None:
            self._explainer.configure(new.llm_period_s)
        self._params = new
        return SetParametersResult(successful=True)

    def _on_reset_baseline(self, request: Any, response: Any) -> Any:
        """Forget one person's baseline (an empty body_id: everyone's)."""
        with self._tick_lock:
            if self._pipeline is None:
                response.forgotten, response.message = 0, 'not configured: no baselines'
                return response
            body_id = request.body_id or None
            response.forgotten = self._pipeline.reset_baselines(body_id)
        who = f'body {request.body_id!r}' if body_id else 'everyone'
        response.message = f'forgot {response.forgotten} baseline(s) of {who}'
        self.get_logger().info(response.message)
        return response

    # --- input ------------------------------------------------------------------------------

    def _on_input(self, msg: Any, info: MessageInfo, stream: int = 0) -> None:
        """Convert one message of an input stream and enqueue it for the next tick; never raises
        on bad content."""
        p, stats = self._params, self._stats
        assert p is not None, 'input arrives only while active'
        arrived = time.monotonic()
        stats.received += 1
        gid = info.get('publisher_gid')
        stats.count_sequence(bytes(gid['data']) if gid else None,
                             info.get('publication_sequence_number'))
        if len(self._queue) >= p.input_queue_size:
            stats.dropped += 1
            self._log_throttled('queue_full', f'input queue full ({p.input_queue_size}): '
                                'message dropped')
            return
        now = self._now()
        self._queue.append((self._convert(msg, now, stream), now, arrived))
        if self._wake is not None:
            self._wake.trigger()  # a tick buffers it at once; several queued, one tick

    def _convert(self, msg: Any, now: float, stream: int) -> convert.InputBatch:
        """Message -> InputBatch with the input parameters and the node clock."""
        p, reader = self._params, self._reader
        assert p is not None and reader is not None, 'input arrives only while active'
        try:
            batch = reader.read(stream, msg, p)
        except (ValueError, TypeError, AttributeError, IndexError, OverflowError) as err:
            return convert.InputBatch([], [convert.Rejection(CONVERSION_ERROR,
                                                             f'{type(err).__name__}: {err}')])
        if not now:  # node time 0: simulated time has not started, nothing is "ahead" yet
            return batch
        limit = now + p.input_max_future_s
        batch.rejections += [convert.Rejection(STAMP_FUTURE, f'body {f.body_id!r} stamp '
                                               f'{f.stamp:.3f} is {f.stamp - now:.3f} s ahead')
                             for f in batch.frames if f.stamp > limit]
        batch.frames = [f for f in batch.frames if f.stamp <= limit]
        return batch

    # --- inference tick ---------------------------------------------------------------------

    def _on_timer(self) -> None:
        """Tick when no input has ticked for a period: people still go lost, the state still
        goes out."""
        p = self._params
        assert p is not None, 'the timer runs only while active'
        if time.monotonic() - self._last_tick < 1.0 / p.inference_rate_hz:
            return
        self._tick(from_input=False)

    def _tick(self, from_input: bool = True) -> None:
        """Drain the queue into the buffers, infer when due, publish the state and markers."""
        with self._tick_lock:
            if self._pipeline is not None:
                self._tick_locked(self._pipeline, self._stats, from_input)

    def _tick_locked(self, pipeline: EmotionPipeline, stats: outputs.NodeStats,
                     from_input: bool) -> None:
        """The tick's work, with the model held."""
        p = self._params
        assert p is not None, 'ticks run only while configured'
        self._last_tick = time.monotonic()
        now = self._now()
        self._drain(pipeline, now)
        start = time.perf_counter()
        try:
            results = pipeline.step(now)
        except (ValueError, RuntimeError) as err:
            stats.inference_errors += 1
            self._log_throttled('inference', f'inference failed: {err}')
            return
        if pipeline.last_batch:
            stats.latencies_ms.append((time.perf_counter() - start) * 1e3)
        stats.ticks += 1
        stats.inferences += pipeline.inferred
        if pipeline.changed or p.output_state_on_input or not from_input:
            self._publish(pipeline, results)
        if self._explainer is not None:  # after publishing: never delays the state
            self._explainer.update(pipeline, results, now)

    def _drain(self, pipeline: EmotionPipeline, now: float) -> None:
        """Move queued frames into the person buffers, counting every rejection."""
        stats, self._arrived = self._stats, None
        while self._queue:
            batch, received, self._arrived = self._queue.popleft()
            frames, rejected = batch.frames, batch.rejections
            buffered = pipeline.add(frames, received)  # stamps backwards, table full
            pipeline.lose(batch.left)  # the tracker dropped them: lost now, not at a timeout
            stats.frames += len(frames) - len(buffered)
            stats.repaired_joints += sum(f.repaired_joints for f in frames)
            for reason, detail in [(r.reason, r.detail) for r in rejected] + buffered:
                stats.rejected[reason] += 1
                self._log_throttled(reason, f'rejected input ({reason}): {detail}')
            if frames:
                stats.newest_stamp = max(stats.newest_stamp, max(f.stamp for f in frames))

    def _publish(self, pipeline: EmotionPipeline, results: List[Any]) -> None:
        """Publish EmotionState and the text markers (at most 10 Hz)."""
        p, model = self._params, self._model
        assert p is not None and model is not None, 'ticks run only while configured'
        assert self._state_pub is not None and self._marker_pub is not None
        frame_id = p.output_frame_id or pipeline.frame_id
        self._state_pub.publish(outputs.emotion_state(
            results, pipeline.labels, pipeline.newest_stamp, frame_id, model.name, model.hash))
        if self._hri is not None:
            self._hri.publish(results, frame_id)
        if self._arrived is not None:  # receipt of the newest input -> its state published
            self._stats.node_latencies_ms.append((time.monotonic() - self._arrived) * 1e3)
        mono = time.monotonic()
        if p.output_markers and mono - self._last_markers >= MARKER_PERIOD_S:
            self._last_markers = mono
            self._marker_pub.publish(outputs.text_markers(
                results, pipeline.newest_stamp, frame_id, p.output_marker_height))

    def _on_diagnostics(self) -> None:
        """Publish /diagnostics (lifecycle state, rates, latency, rejections, LLM)."""
        if self._diag_pub is None or self._pipeline is None or self._model is None:
            return
        pipeline = self._pipeline
        people = pipeline.people
        with_baseline = (pipeline.baselines.ready_count(pipeline.settings.baseline_config.min_s)
                         if pipeline.settings.baseline else 0)  # read against one now
        extra = {'people_with_baseline': str(with_baseline),
                 'baselines_kept': str(len(pipeline.baselines)),
                 'buffer_resets': str(people.restarts_back + people.restarts_forward),
                 'buffer_resets_back': str(people.restarts_back),
                 'buffer_resets_forward': str(people.restarts_forward)}
        if self._explainer is not None:
            extra.update(self._explainer.diagnostics())
        self._diag_pub.publish(outputs.diagnostics(
            f'emotion_node: {self.get_fully_qualified_name()}', self.get_clock().now().to_msg(),
            self._stats, self._lifecycle, len(self._pipeline.people), self._model.backend.name,
            self._now(), extra))

    # --- helpers ----------------------------------------------------------------------------

    def _now(self) -> float:
        """Node time in seconds (simulated under use_sim_time)."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _log_throttled(self, key: str, text: str) -> None:
        """Warn at most once per LOG_THROTTLE_S per key (each rejection reason has its own)."""
        mono = time.monotonic()
        if mono - self._last_log.get(key, -LOG_THROTTLE_S) >= LOG_THROTTLE_S:
            self._last_log[key] = mono
            self.get_logger().warning(text)

    def _start_explainer(self, p: params.NodeParams) -> ExplainLink:
        """Start the LLM explanation worker on its own thread."""
        from emotion_node.ros.explain_link import ExplainLink
        return ExplainLink(p, self._model, self.get_logger())
