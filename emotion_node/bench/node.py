"""Benchmark the node: end-to-end latency over DDS, its CPU use and drops; and label flicker.

Latency is measured from publishing a SkeletonArray to receiving, in this process, the first
EmotionState that uses it: the first whose header stamp (the newest skeleton stamp the node
used) is at or after that skeleton's stamp. When the node falls behind, one state answers
several messages and the older ones wait longer: that wait is part of their latency. Dropped
counts messages that never reached a person buffer: lost in transport, dropped from a full
queue, or rejected. The node runs as its own process, started here and stopped at the end.
Flicker replays recorded clips through the node's pipeline by their stamps, with smoothing on
and off, and counts label changes per minute. Stages times, in this process and one thread, the
node's work per message for the same input: deserialize, convert, tick, build + serialize state.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from emotion_node.model.labels import EMOTION_STYLES

BENCH_TOPIC = '/emotion_bench/skeletons'
READY_TIMEOUT_S = 120.0
SETTLE_S = 1.5  # after the last message: stragglers and one more /diagnostics
FLICKER_STYLES = EMOTION_STYLES  # every emotion the default model names
FLICKER_GROUP = 8  # people side by side in one replayed bag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `emotion-node bench node`."""
    parser.add_argument('--json', metavar='FILE', help='write the rows as JSON here')
    parser.add_argument('--persons', type=int, nargs='+', default=[1, 10, 30],
                        help='people per message, one row each (default: 1 10 30)')
    parser.add_argument('--rate', type=float, default=30.0, help='input rate in Hz (default 30)')
    parser.add_argument('--duration', type=float, default=10.0, help='measured seconds per row')
    parser.add_argument('--warmup', type=float, default=3.0, help='unmeasured seconds first')
    parser.add_argument('--llm', choices=('off', 'on', 'both'), default='off',
                        help='LLM explanations off, on, or a row each (default: off)')
    parser.add_argument('--llm-persons', type=int, default=10,
                        help='people in the LLM-on rows (default 10)')
    parser.add_argument('--model', default='', help='tokenizer directory (default: package)')
    parser.add_argument('--backend', default='auto', help='tokenizer backend (default: auto)')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID for the node and this probe (default: $ROS_DOMAIN_ID)')
    parser.add_argument('--flicker', action='store_true',
                        help='also count label changes per minute with and without smoothing')
    parser.add_argument('--flicker-only', action='store_true', help='only the flicker part')
    parser.add_argument('--stages', action='store_true',
                        help='also time the node\'s work per message, stage by stage, in process')
    parser.add_argument('--stages-only', action='store_true', help='only the stages part')


def _clip_paths(count: int) -> List[Path]:
    """`count` real clips of the shared dataset, cycling through the emotion styles."""
    from emotion_node.skeleton.dataset import index_clips
    clips = [c for c in index_clips()
             if c.style in FLICKER_STYLES and c.content.startswith('walk')]
    clips.sort(key=lambda c: (FLICKER_STYLES.index(c.style), c.content))  # style by style
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


def measure(persons: int, rate_hz: float, llm: bool, args: argparse.Namespace,
            domain_id: int) -> Dict[str, Any]:
    """One row: start the node, publish, collect latencies and CPU, stop the node."""
    from emotion_node.ros.node_main import spawn_node, stop_process
    messages = _messages(persons, rate_hz, args.warmup + args.duration)
    warmup = int(round(args.warmup * rate_hz))
    parameters = {'input.topic': BENCH_TOPIC, 'inference.on_input': True,
                  'people.max_persons': max(32, persons), 'llm.enabled': llm,
                  'model.backend': args.backend}
    if args.model:
        parameters['model.path'] = str(Path(args.model).resolve())
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


def stage_times(persons: int, rate_hz: float, args: argparse.Namespace) -> Dict[str, Any]:
    """Median ms per message of each stage of the node's work, the node's own code in order:
    rclpy deserialization, conversion to canonical frames, the tick (buffers, resampling,
    batched inference, smoothing), and building + serializing the EmotionState."""
    from rclpy.serialization import deserialize_message, serialize_message

    from emotion_node.msg import SkeletonArray
    from emotion_node.ros import outputs
    from emotion_node.ros.convert import skeleton_array_to_frames
    from emotion_node.ros.params import NodeParams
    from emotion_node.ros.pipeline import EmotionPipeline, load_model
    p = NodeParams(model_path=args.model, model_backend=args.backend,
                   people_max_persons=max(32, persons))
    model = load_model(p)
    pipeline = EmotionPipeline.from_params(model, p)
    warmup = int(round(args.warmup * rate_hz))
    messages = _messages(persons, rate_hz, args.warmup + args.duration)
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
                                                    pipeline.newest_stamp, 'world', model.name,
                                                    model.hash))
            marks.append(time.perf_counter())
            if i >= warmup:
                for name, a, b in zip(STAGES, marks, marks[1:]):
                    spent[name].append((b - a) * 1e3)
    finally:
        model.backend.close()
    row: Dict[str, Any] = {'persons': persons, 'messages': len(spent['tick'])}
    row.update({f'{name}_ms': round(float(np.median(v)), 3) for name, v in spent.items()})
    row['total_ms'] = round(float(np.median(np.sum([spent[n] for n in STAGES], axis=0))), 3)
    return row


def flicker_sets(model_dir: Path) -> Dict[str, List[tuple]]:
    """Named lists of (BVH path, true style or None) to replay for the flicker measurement.

    The committed model was fine-tuned on the emotion styles of some actions; the same styles on
    other actions, and the non-emotion styles, show how labels behave on motion it has not fit.
    """
    from emotion_node.model.model_files import read_config
    from emotion_node.skeleton.dataset import index_clips, shared_contents
    clips = index_clips()
    config = read_config(model_dir)
    trained = set(config.get('training', {}).get('contents', [])) or \
        set(shared_contents(clips, FLICKER_STYLES))
    emotion = [c for c in clips if c.style in FLICKER_STYLES]
    return {
        'emotion styles, actions the model was trained on': [
            (c.path, c.style) for c in emotion if c.content in trained],
        'emotion styles, actions held out from training': [
            (c.path, c.style) for c in emotion if c.content not in trained],
        'other styles (no emotion label), trained actions': [
            (c.path, None) for c in clips if c.style not in FLICKER_STYLES
            and c.content in trained],
    }


def _bag_frames(bag: Path) -> List[list]:
    """The BodyFrames of every non-empty message of a bag, in its order."""
    from emotion_node.ros.bag_io import read_bag
    from emotion_node.ros.convert import skeleton_array_to_frames
    frames = (skeleton_array_to_frames(msg)[0] for _, _, msg in read_bag(bag))
    return [f for f in frames if f]


def _replay_labels(pipeline: Any, messages: List[list]) -> Dict[str, List[tuple]]:
    """Feed messages' frames through a pipeline by their stamps; (t, style) of every ok tick
    per body."""
    from emotion_node.ros.people import OK
    out: Dict[str, List[tuple]] = {}
    for frames in messages:
        now = frames[0].stamp
        pipeline.add(frames, now)
        for result in pipeline.step(now):
            if result.status == OK:
                out.setdefault(result.body_id, []).append((now, result.style))
    return out


def _replay_set(model: Any, p: Any, settings: Sequence[Any], clips: List[tuple]
                ) -> List[Dict[str, Any]]:
    """Replay clips (eight side by side per bag) under each of `settings`; per setting, count
    changes, minutes and hits. Each bag is written and read once, whatever the settings."""
    from emotion_node.ros.bag_io import load_tracks, write_bag
    from emotion_node.ros.pipeline import EmotionPipeline
    from emotion_node.ros.smoothing import label_changes
    totals = [{'label_changes': 0, 'minutes': 0.0, 'ticks': 0, 'labelled': 0, 'right': 0}
              for _ in settings]
    for k in range(0, len(clips), FLICKER_GROUP):
        group = clips[k:k + FLICKER_GROUP]
        tracks = load_tracks([path for path, _ in group])
        truth = {t.body_id: style for t, (_, style) in zip(tracks, group)}
        with tempfile.TemporaryDirectory(prefix='emotion_flicker_') as tmp:
            write_bag(Path(tmp) / 'bag', tracks)
            messages = _bag_frames(Path(tmp) / 'bag')
        for total, setting in zip(totals, settings):
            pipeline = EmotionPipeline(model.backend, model.preprocess, len(tracks),
                                       p.window_length_s, setting)
            for body_id, seq in _replay_labels(pipeline, messages).items():
                total['label_changes'] += label_changes([s for _, s in seq])
                total['minutes'] += (seq[-1][0] - seq[0][0]) / 60.0
                total['ticks'] += len(seq)
                if truth[body_id] is not None:
                    total['labelled'] += len(seq)
                    total['right'] += sum(s == truth[body_id] for _, s in seq)
    return totals


def flicker(args: argparse.Namespace, sets: Optional[Dict[str, List[tuple]]] = None
            ) -> List[Dict[str, Any]]:
    """Label changes per minute (and tick accuracy), smoothing on and off, over real clips."""
    from dataclasses import replace

    from emotion_node.ros.params import NodeParams
    from emotion_node.ros.pipeline import PipelineSettings, load_model
    p = NodeParams(model_path=args.model, model_backend=args.backend)
    model = load_model(p)
    sets = sets if sets is not None else flicker_sets(model.directory)
    rows = []
    try:
        base = PipelineSettings.from_params(p)
        switches = (True, False)  # smoothing on, then off
        settings = [replace(base, smoothing=replace(base.smoothing, enabled=on))
                    for on in switches]
        for name, clips in sets.items():
            for smoothing, t in zip(switches, _replay_set(model, p, settings, clips)):
                rows.append({'clips': name, 'count': len(clips), 'smoothing': smoothing,
                             'changes_per_min': round(t['label_changes'] / t['minutes'], 2),
                             'label_changes': t['label_changes'],
                             'minutes': round(t['minutes'], 2), 'ticks': t['ticks'],
                             'tick_accuracy': round(t['right'] / t['labelled'], 3)
                             if t['labelled'] else None})
    finally:
        model.backend.close()
    return rows


def _print(rows: List[Dict[str, Any]], flicker_rows: List[Dict[str, Any]],
           stage_rows: Sequence[Dict[str, Any]] = ()) -> None:
    """Readable tables on stdout."""
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
    for r in flicker_rows:
        accuracy = '' if r['tick_accuracy'] is None else f', tick accuracy {r["tick_accuracy"]}'
        print(f'{r["clips"]} ({r["count"]} clips, {r["minutes"]:.1f} person-min), smoothing '
              f'{"on " if r["smoothing"] else "off"}: {r["changes_per_min"]:6.2f} label '
              f'changes/min{accuracy}')


def main(args: argparse.Namespace) -> int:
    """Run the rows (and flicker), print them, write the JSON."""
    if args.rate <= 0 or args.duration <= 0 or args.warmup < 0 or min(args.persons) < 1:
        print('error: --rate, --duration and --persons must be positive', file=sys.stderr)
        return 2
    domain = args.domain_id if args.domain_id is not None else \
        int(os.environ.get('ROS_DOMAIN_ID', '0'))
    rows: List[Dict[str, Any]] = []
    plan = [] if args.flicker_only or args.stages_only else (
        [(n, False) for n in args.persons] * (args.llm != 'on')
        + [(args.llm_persons, True)] * (args.llm != 'off'))
    try:
        for persons, llm in plan:
            rows.append(measure(persons, args.rate, llm, args, domain))
            _print(rows[-1:], [])
        stage_rows = [stage_times(n, args.rate, args) for n in args.persons] \
            if args.stages or args.stages_only else []
        flicker_rows = flicker(args) if args.flicker or args.flicker_only else []
    except (RuntimeError, FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    _print([], flicker_rows, stage_rows)
    if args.json:
        report = {'rows': rows, 'flicker': flicker_rows, 'stages': stage_rows, 'settings': {
            'duration_s': args.duration, 'warmup_s': args.warmup, 'cpus': os.cpu_count(),
            'model': args.model or 'package default', 'backend_requested': args.backend}}
        Path(args.json).write_text(json.dumps(report, indent=2) + '\n')
    return 0
