"""Benchmark the node: end-to-end latency over DDS, its CPU use and drops; its work per stage.

Latency is measured from publishing a SkeletonArray to receiving, in this process, the first
EmotionState that uses it: the first whose header stamp (the newest skeleton stamp the node
took in) is at or after that skeleton's stamp. Label latency is the same for the labels: the
first state whose every ok person's label comes from a window ending at or after that stamp
(with inference at its own rate, labels are up to one inference period older than the state).
When the node falls behind, one state answers several messages and the older ones wait longer:
that wait is part of their latency. Dropped counts messages that never reached a person buffer:
lost in transport, dropped from a full queue, or rejected. The node runs as its own process,
started here and stopped at the end; its CPU time is counted apart from its children's (the
explainer process). Person-frames per CPU-second divides the person-frames it took in by its
CPU time; the model's own figure, measured in this process after the row, is the same batch
through the backend alone, the limit the node would reach if everything else were free.
Stages times, in this process and one thread, the node's work per message for the same input:
deserialize, convert, tick (inferring or not), build + serialize state. (Label flicker:
`emotion_node.bench.flicker`.)
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from emotion_node.model.labels import EMOTION_STYLES

BENCH_TOPIC = '/emotion_bench/skeletons'
READY_TIMEOUT_S = 120.0
SETTLE_S = 1.5  # after the last message: stragglers and one more /diagnostics


def _clip_paths(count: int) -> List[Path]:
    """`count` real clips of the shared dataset, cycling through the emotion styles."""
    from emotion_node.skeleton.dataset import DATASET_1, index_clips
    # Dataset 1's walks: every emotion style, so the people differ (rows stay comparable).
    clips = [c for c in index_clips() if c.dataset == DATASET_1.key
             and c.style in EMOTION_STYLES and c.content.startswith('walk')]
    clips.sort(key=lambda c: (EMOTION_STYLES.index(c.style), c.content))  # style by style
    return [clips[(i * 5) % len(clips)].path for i in range(count)]


def _messages(persons: int, rate_hz: float, seconds: float) -> List[Any]:
    """Prebuilt SkeletonArray messages (stamps set at publish time), `persons` bodies each."""
    from emotion_node.ros.bag_io import load_tracks
    from emotion_node.ros.convert import BodyFrame, build_skeleton_array, rclpy_factory
    tracks = load_tracks(_clip_paths(persons))
    types = rclpy_factory()
    out = []
    for i in range(int(round(rate_hz * seconds))):
        bodies = []
        for t in tracks:
            k = int(i * t.fps / rate_hz) % len(t.positions)  # clips loop
            bodies.append(BodyFrame(t.body_id, 0.0, t.positions[k], t.mask[k], 'world'))
        out.append(build_skeleton_array(types, 0.0, 'world', bodies))
    return out


def _micros(stamp: Any) -> int:
    """builtin_interfaces/Time -> whole microseconds (the probe stamps its messages so)."""
    return round((stamp.sec * 10**9 + stamp.nanosec) / 1000)


class Probe:
    """Publishes skeletons and receives EmotionState in a private rclpy context."""

    def __init__(self, domain_id: int) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile

        from emotion_node.msg import EmotionState, SkeletonArray
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node('emotion_bench_probe', context=self.context)
        self.pub = self.node.create_publisher(SkeletonArray, BENCH_TOPIC, QoSProfile(depth=100))
        self.node.create_subscription(
            EmotionState, '/emotion_state', self._on_state,
            QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)
        self.sent: Dict[int, int] = {}  # stamp in microseconds -> publish time (monotonic ns)
        self.answers: List[tuple] = []  # (state stamp in microseconds, receive time ns)
        # (stamp in microseconds of the oldest window an ok person's label comes from, receive
        # time ns); states without an ok person are left out
        self.labels: List[tuple] = []
        self.present: Optional[set] = None  # ids still published (None: everyone)
        self.states = 0
        self.diagnostics: Dict[str, str] = {}
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    def _on_state(self, msg: Any) -> None:
        received = time.monotonic_ns()
        self.states += 1
        self.answers.append((_micros(msg.header.stamp), received))
        present = self.present  # a person who has left keeps their last label until lost
        ends = [_micros(p.window_end) for p in msg.persons if p.status == p.STATUS_OK
                and (present is None or p.body_id in present)]
        if ends:
            self.labels.append((min(ends), received))

    def latencies_ms(self, labels: bool = False) -> np.ndarray:
        """Per measured message: publish -> first state at or after its stamp (ms); with
        `labels`, the first whose every label comes from a window ending at or after it."""
        return self.answered(labels)[1]

    def answered(self, labels: bool = False) -> Tuple[np.ndarray, np.ndarray]:
        """(publish time in monotonic ns, latency in ms) of every measured message answered,
        in publish order (see `latencies_ms`)."""
        import bisect
        answers = self.labels if labels else self.answers
        # The first state at or after a stamp is where the running maximum first reaches it.
        reached: Any = np.maximum.accumulate([s for s, _ in answers]) if answers else []
        sent_at, latency = [], []
        for stamp, sent in self.sent.items():
            i = bisect.bisect_left(reached, stamp)
            if i < len(reached):
                sent_at.append(sent)
                latency.append((answers[i][1] - sent) / 1e6)
        return np.array(sent_at, dtype=np.int64), np.array(latency)

    def _on_diag(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith('emotion_node'):
                self.diagnostics = {kv.key: kv.value for kv in status.values}

    def wait_ready(self, timeout_s: float, proc: Any) -> bool:
        """Wait until the node subscribes to the input and publishes EmotionState."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and proc.poll() is None:
            if self.pub.get_subscription_count() and self.states:
                return True
            time.sleep(0.05)
        return False

    def publish(self, msg: Any, measured: bool) -> None:
        """Stamp with the wall clock (whole microseconds, so the float round trip is exact)."""
        stamp_us = time.time_ns() // 1000
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_us * 1000, 10**9)
        if measured:
            self.sent[stamp_us] = time.monotonic_ns()
        self.pub.publish(msg)

    def close(self) -> None:
        import rclpy
        self._executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=5.0)


def _cpu_seconds(pid: int) -> Tuple[float, float]:
    """CPU seconds of a process and of its children (the explainer process)."""
    import psutil
    own, children = 0.0, 0.0
    root = psutil.Process(pid)
    for proc in [root] + root.children(recursive=True):
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        if proc.pid == pid:
            own = times.user + times.system
        else:
            children += times.user + times.system
    return own, children


def _play(probe: Probe, messages: Sequence[Any], rate_hz: float, warmup: int, pid: int
          ) -> Tuple[float, float, float]:
    """Publish at rate_hz; return (node CPU s, its children's CPU s, seconds) over the
    measured part."""
    start = time.monotonic()
    cpu_start, mark = (0.0, 0.0), start
    for i, msg in enumerate(messages):
        delay = start + i / rate_hz - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if i == warmup:  # the measured interval starts here
            cpu_start, mark = _cpu_seconds(pid), time.monotonic()
        probe.publish(msg, measured=i >= warmup)
    cpu_end, elapsed = _cpu_seconds(pid), max(time.monotonic() - mark, 1e-9)
    time.sleep(SETTLE_S)
    return cpu_end[0] - cpu_start[0], cpu_end[1] - cpu_start[1], elapsed


def model_cost(persons: int, model: str = '', backend: str = 'auto', calls: int = 100
               ) -> float:
    """CPU seconds of one backend call on `persons` real windows (the model alone, after
    warm-up, in this process): what the node's batch costs at the least."""
    from emotion_node.ros.bag_io import load_tracks
    from emotion_node.ros.params import NodeParams
    from emotion_node.ros.pipeline import load_model
    from emotion_node.skeleton.preprocess import clip_windows, preprocess_batch
    loaded = load_model(NodeParams(model_path=model, model_backend=backend,
                                   people_max_persons=max(32, persons)))
    try:
        cut = [clip_windows(t.positions, t.mask, t.fps, loaded.preprocess)
               for t in load_tracks(_clip_paths(persons))]
        x, m = preprocess_batch(np.stack([w[0][0] for w in cut]),
                                np.stack([w[1][0] for w in cut]), loaded.preprocess)
        for _ in range(10):
            loaded.backend.infer(x, m)
        start = time.process_time()
        for _ in range(calls):
            loaded.backend.infer(x, m)
        return (time.process_time() - start) / calls
    finally:
        loaded.backend.close()


@contextlib.contextmanager
def running_node(parameters: Dict[str, Any], domain_id: int, model: str = ''
                 ) -> Iterator[Tuple[Any, Probe, Path]]:
    """The node process (`parameters` by ROS name; `model`: a tokenizer directory) and a probe,
    once the node is up; both are stopped on leaving. Yields (process, probe, log path)."""
    from emotion_node.ros.node_main import spawn_node, stop_process
    parameters = dict(parameters, **({'model.path': str(Path(model).resolve())} if model else {}))
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    with tempfile.TemporaryDirectory(prefix='emotion_bench_') as tmp:
        log = Path(tmp) / 'node.log'
        proc = spawn_node(parameters, log, env)
        probe = Probe(domain_id)
        try:
            if not probe.wait_ready(READY_TIMEOUT_S, proc):
                raise RuntimeError(f'the node did not come up; its log:\n'
                                   f'{log.read_text(errors="replace")[-3000:]}')
            yield proc, probe, log
        finally:
            probe.close()
            stop_process(proc)


def _percentile(values: np.ndarray, q: float) -> Optional[float]:
    """Percentile in ms, rounded; None when nothing was measured."""
    return round(float(np.percentile(values, q)), 3) if values.size else None


def measure(persons: int, rate_hz: float, llm: bool, domain_id: int, *, duration_s: float,
            warmup_s: float, model: str = '', backend: str = 'auto',
            params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """One row: start the node, publish, collect latencies and CPU, stop the node.

    `warmup_s` unmeasured seconds, then `duration_s` measured ones; `model` is the tokenizer
    directory (default: the package's), `backend` the node's `model.backend`; `params` more
    node parameters by ROS name (everything else: the package defaults).
    """
    messages = _messages(persons, rate_hz, warmup_s + duration_s)
    warmup = int(round(warmup_s * rate_hz))
    parameters: Dict[str, Any] = {'input.topic': BENCH_TOPIC,
                                  'people.max_persons': max(32, persons), 'llm.enabled': llm,
                                  'model.backend': backend, **(params or {})}
    load_start = os.getloadavg()[0]
    with running_node(parameters, domain_id, model) as (proc, probe, _):
        node_cpu, child_cpu, elapsed = _play(probe, messages, rate_hz, warmup, proc.pid)
    load_end = os.getloadavg()[0]
    lat, label_lat, diag = probe.latencies_ms(), probe.latencies_ms(labels=True), \
        probe.diagnostics
    unused = len(messages) - int(diag.get('messages_received', '0')) + int(
        diag.get('dropped_queue_full', '0')) + int(diag.get('rejected_total', '0'))
    frames_per_cpu_s = persons * len(probe.sent) / max(node_cpu, 1e-9)
    model_per_cpu_s = persons / model_cost(persons, model, backend)
    return {'persons': persons, 'rate_hz': rate_hz, 'llm': llm,
            'params': {k: v for k, v in (params or {}).items()},
            'p50_ms': _percentile(lat, 50), 'p99_ms': _percentile(lat, 99),
            'label_p50_ms': _percentile(label_lat, 50),
            'label_p99_ms': _percentile(label_lat, 99),
            'dropped': unused,
            'cpu_percent': round(100.0 * node_cpu / elapsed, 1),  # the node process alone
            'explainer_cpu_percent': round(100.0 * child_cpu / elapsed, 1),
            'person_frames_per_cpu_s': round(frames_per_cpu_s),
            'model_person_frames_per_cpu_s': round(model_per_cpu_s),
            'model_ratio': round(frames_per_cpu_s / model_per_cpu_s, 3),
            'published': len(messages), 'measured': len(probe.sent),
            'unanswered': len(probe.sent) - len(lat),
            'backend': diag.get('backend', ''),
            # inside the node, receipt of a message -> its state published (last 512 states)
            'node_p50_ms': float(diag.get('input_to_state_p50_ms', 'nan')),
            'node_p95_ms': float(diag.get('input_to_state_p95_ms', 'nan')),
            'inferences': int(diag.get('inferences', '0')),
            'explanations': int(diag.get('llm.completed', '0')),
            'load_1min': [round(load_start, 2), round(load_end, 2)]}


STAGES = ('deserialize', 'convert', 'tick', 'state')


def stage_times(persons: int, rate_hz: float, *, duration_s: float, warmup_s: float,
                model: str = '', backend: str = 'auto',
                params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Median ms per message of each stage of the node's work, the node's own code in order:
    rclpy deserialization, conversion to canonical frames, the tick (buffers, and when
    inference is due resampling, batched inference and smoothing), and building + serializing
    the EmotionState; also the tick's median with and without inference and the mean total
    per message (what the node's CPU time follows). `params`: node parameters by ROS name."""
    from rclpy.serialization import deserialize_message, serialize_message

    from emotion_node.msg import SkeletonArray
    from emotion_node.ros import outputs
    from emotion_node.ros.convert import skeleton_array_to_frames
    from emotion_node.ros.params import NodeParams
    from emotion_node.ros.pipeline import EmotionPipeline, load_model
    p = NodeParams(model_path=model, model_backend=backend,
                   people_max_persons=max(32, persons)).with_values(params or {})
    loaded = load_model(p)
    pipeline = EmotionPipeline.from_params(loaded, p)
    warmup = int(round(warmup_s * rate_hz))
    messages = _messages(persons, rate_hz, warmup_s + duration_s)
    spent: Dict[str, List[float]] = {name: [] for name in STAGES}
    inferred: List[bool] = []
    try:
        for i, msg in enumerate(messages):
            t = 1000.0 + i / rate_hz
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), int(round(t % 1 * 1e9))
            raw = serialize_message(msg)
            marks = [time.perf_counter()]
            msg_in = deserialize_message(raw, SkeletonArray)
            marks.append(time.perf_counter())
            frames, _ = skeleton_array_to_frames(msg_in, p.input_min_confidence,
                                                 p.input_up_axis, p.people_max_persons)
            marks.append(time.perf_counter())
            pipeline.add(frames, t)
            results = pipeline.step(t)
            marks.append(time.perf_counter())
            if pipeline.changed or p.output_state_on_input:  # as the node publishes
                serialize_message(outputs.emotion_state(results, pipeline.labels,
                                                        pipeline.newest_stamp, 'world',
                                                        loaded.name, loaded.hash))
            marks.append(time.perf_counter())
            if i >= warmup:
                for name, a, b in zip(STAGES, marks, marks[1:]):
                    spent[name].append((b - a) * 1e3)
                inferred.append(pipeline.inferred)
    finally:
        loaded.backend.close()
    ticks = np.array(spent['tick'])
    infer = np.array(inferred, dtype=bool)
    row: Dict[str, Any] = {'persons': persons, 'messages': len(spent['tick']),
                           'inferences': int(infer.sum()),
                           'params': {k: v for k, v in (params or {}).items()}}
    row.update({f'{name}_ms': round(float(np.median(v)), 3) for name, v in spent.items()})
    totals = np.sum([spent[n] for n in STAGES], axis=0)
    row['total_ms'] = round(float(np.median(totals)), 3)
    row['mean_total_ms'] = round(float(np.mean(totals)), 3)
    row['infer_tick_ms'] = round(float(np.median(ticks[infer])), 3) if infer.any() else None
    row['track_tick_ms'] = round(float(np.median(ticks[~infer])), 3) if (~infer).any() \
        else None
    return row


def print_rows(rows: Sequence[Dict[str, Any]], stage_rows: Sequence[Dict[str, Any]] = ()
               ) -> None:
    """Readable tables on stdout: stages, then latency rows."""
    columns = STAGES + ('total', 'mean_total', 'infer_tick', 'track_tick')
    if stage_rows:
        print(f'{"persons":>7} ' + ' '.join(f'{n + " ms":>14}' for n in columns)
              + '  inferences/messages')
    for r in stage_rows:
        print(f'{r["persons"]:>7} ' + ' '.join(
            f'{r[n + "_ms"]:>14.3f}' if r[n + '_ms'] is not None else f'{"-":>14}'
            for n in columns) + f'  {r["inferences"]}/{r["messages"]}')
    if rows:
        print(f'{"persons":>7} {"rate":>5} {"llm":>5} {"p50 ms":>8} {"p99 ms":>8} '
              f'{"label p50/p99 ms":>17} {"dropped":>7} {"cpu %":>6} {"llm cpu %":>9} '
              f'{"frames/cpu-s":>12} {"model":>8} {"in-node p50/p95 ms":>19} {"load":>11}'
              f'  backend')
    for r in rows:
        print(f'{r["persons"]:>7} {r["rate_hz"]:>5.0f} {str(r["llm"]):>5} {r["p50_ms"]!s:>8} '
              f'{r["p99_ms"]!s:>8} {str(r["label_p50_ms"]) + "/" + str(r["label_p99_ms"]):>17} '
              f'{r["dropped"]:>7} {r["cpu_percent"]:>6} {r["explainer_cpu_percent"]:>9} '
              f'{r["person_frames_per_cpu_s"]:>12} {r["model_ratio"]:>8} '
              f'{r["node_p50_ms"]:>9.2f}/{r["node_p95_ms"]:<9.2f} '
              f'{r["load_1min"][0]:>5}-{r["load_1min"][1]:<5}  {r["backend"]}'
              + (f'  {r["params"]}' if r['params'] else ''))
