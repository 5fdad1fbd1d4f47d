"""Benchmark the node: end-to-end latency over DDS, its CPU use and drops; its work per stage.

Latency is measured from publishing a SkeletonArray to receiving, in this process, the first
EmotionState that uses it: the first whose header stamp (the newest skeleton stamp the node
used) is at or after that skeleton's stamp. When the node falls behind, one state answers
several messages and the older ones wait longer: that wait is part of their latency. Dropped
counts messages that never reached a person buffer: lost in transport, dropped from a full
queue, or rejected. The node runs as its own process, started here and stopped at the end.
Stages times, in this process and one thread, the node's work per message for the same input:
deserialize, convert, tick, build + serialize state. (Label flicker: `emotion_node.bench.flicker`.)
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

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
        self.states = 0
        self.diagnostics: Dict[str, str] = {}
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    def _on_state(self, msg: Any) -> None:
        received = time.monotonic_ns()
        self.states += 1
        key = round((msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec) / 1000)
        self.answers.append((key, received))

    def latencies_ms(self) -> np.ndarray:
        """Per measured message: publish -> first state at or after its stamp (ms)."""
        import bisect
        stamps = [s for s, _ in self.answers]  # non-decreasing: states go out in order
        out = []
        for stamp, sent in self.sent.items():
            i = bisect.bisect_left(stamps, stamp)
            if i < len(stamps):
                out.append((self.answers[i][1] - sent) / 1e6)
        return np.array(out)

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


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the explainer process), in seconds."""
    import psutil
    total = 0.0
    root = psutil.Process(pid)
    for proc in [root] + root.children(recursive=True):
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def _play(probe: Probe, messages: Sequence[Any], rate_hz: float, warmup: int, pid: int) -> float:
    """Publish at rate_hz; return the node's CPU percent (of one core, with its children)."""
    start = time.monotonic()
    cpu_start, mark = 0.0, start
    for i, msg in enumerate(messages):
        delay = start + i / rate_hz - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if i == warmup:  # the measured interval starts here
            cpu_start, mark = _cpu_seconds(pid), time.monotonic()
        probe.publish(msg, measured=i >= warmup)
    cpu = 100.0 * (_cpu_seconds(pid) - cpu_start) / max(time.monotonic() - mark, 1e-9)
    time.sleep(SETTLE_S)
    return cpu


def measure(persons: int, rate_hz: float, llm: bool, domain_id: int, *, duration_s: float,
            warmup_s: float, model: str = '', backend: str = 'auto') -> Dict[str, Any]:
    """One row: start the node, publish, collect latencies and CPU, stop the node.

    `warmup_s` unmeasured seconds, then `duration_s` measured ones; `model` is the tokenizer
    directory (default: the package's), `backend` the node's `model.backend`.
    """
    from emotion_node.ros.node_main import spawn_node, stop_process
    messages = _messages(persons, rate_hz, warmup_s + duration_s)
    warmup = int(round(warmup_s * rate_hz))
    parameters = {'input.topic': BENCH_TOPIC, 'inference.on_input': True,
                  'people.max_persons': max(32, persons), 'llm.enabled': llm,
                  'model.backend': backend}
    if model:
        parameters['model.path'] = str(Path(model).resolve())
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    with tempfile.TemporaryDirectory(prefix='emotion_bench_') as tmp:
        log = Path(tmp) / 'node.log'
        proc = spawn_node(parameters, log, env)
        probe = Probe(domain_id)
        try:
            if not probe.wait_ready(READY_TIMEOUT_S, proc):
                raise RuntimeError(f'the node did not come up; its log:\n'
                                   f'{log.read_text(errors="replace")[-3000:]}')
            cpu = _play(probe, messages, rate_hz, warmup, proc.pid)
        finally:
            probe.close()
            stop_process(proc)
    lat, diag = probe.latencies_ms(), probe.diagnostics
    unused = len(messages) - int(diag.get('messages_received', '0')) + int(
        diag.get('dropped_queue_full', '0')) + int(diag.get('rejected_total', '0'))
    return {'persons': persons, 'rate_hz': rate_hz, 'llm': llm,
            'p50_ms': round(float(np.percentile(lat, 50)), 3) if lat.size else None,
            'p99_ms': round(float(np.percentile(lat, 99)), 3) if lat.size else None,
            'dropped': unused, 'cpu_percent': round(cpu, 1),
            'published': len(messages), 'measured': len(probe.sent),
            'unanswered': len(probe.sent) - len(lat),
            'backend': diag.get('backend', ''),
            # inside the node, receipt of a message -> its state published (last 512 states)
            'node_p50_ms': float(diag.get('input_to_state_p50_ms', 'nan')),
            'node_p95_ms': float(diag.get('input_to_state_p95_ms', 'nan')),
            'explanations': int(diag.get('llm.completed', '0'))}


STAGES = ('deserialize', 'convert', 'tick', 'state')


def stage_times(persons: int, rate_hz: float, *, duration_s: float, warmup_s: float,
                model: str = '', backend: str = 'auto') -> Dict[str, Any]:
    """Median ms per message of each stage of the node's work, the node's own code in order:
    rclpy deserialization, conversion to canonical frames, the tick (buffers, resampling,
    batched inference, smoothing), and building + serializing the EmotionState."""
    from rclpy.serialization import deserialize_message, serialize_message

    from emotion_node.msg import SkeletonArray
    from emotion_node.ros import outputs
    from emotion_node.ros.convert import skeleton_array_to_frames
    from emotion_node.ros.params import NodeParams
    from emotion_node.ros.pipeline import EmotionPipeline, load_model
    p = NodeParams(model_path=model, model_backend=backend, people_max_persons=max(32, persons))
    loaded = load_model(p)
    pipeline = EmotionPipeline.from_params(loaded, p)
    warmup = int(round(warmup_s * rate_hz))
    messages = _messages(persons, rate_hz, warmup_s + duration_s)
    spent: Dict[str, List[float]] = {name: [] for name in STAGES}
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
            serialize_message(outputs.emotion_state(results, pipeline.labels,
                                                    pipeline.newest_stamp, 'world', loaded.name,
                                                    loaded.hash))
            marks.append(time.perf_counter())
            if i >= warmup:
                for name, a, b in zip(STAGES, marks, marks[1:]):
                    spent[name].append((b - a) * 1e3)
    finally:
        loaded.backend.close()
    row: Dict[str, Any] = {'persons': persons, 'messages': len(spent['tick'])}
    row.update({f'{name}_ms': round(float(np.median(v)), 3) for name, v in spent.items()})
    row['total_ms'] = round(float(np.median(np.sum([spent[n] for n in STAGES], axis=0))), 3)
    return row


def print_rows(rows: Sequence[Dict[str, Any]], stage_rows: Sequence[Dict[str, Any]] = ()
               ) -> None:
    """Readable tables on stdout: stages, then latency rows."""
    if stage_rows:
        print(f'{"persons":>7} ' + ' '.join(f'{n + " ms":>14}' for n in STAGES + ('total',)))
    for r in stage_rows:
        print(f'{r["persons"]:>7} ' + ' '.join(f'{r[n + "_ms"]:>14.3f}'
                                             for n in STAGES + ('total',)))
    if rows:
        print(f'{"persons":>7} {"rate":>5} {"llm":>4} {"p50 ms":>8} {"p99 ms":>8} '
              f'{"dropped":>8} {"cpu %":>6} {"in-node p50/p95 ms":>19}  backend')
    for r in rows:
        print(f'{r["persons"]:>7} {r["rate_hz"]:>5.0f} {str(r["llm"]):>4} {r["p50_ms"]!s:>8} '
              f'{r["p99_ms"]!s:>8} {r["dropped"]:>8} {r["cpu_percent"]:>6} '
              f'{r["node_p50_ms"]:>9.2f}/{r["node_p95_ms"]:<9.2f}  {r["backend"]}')
