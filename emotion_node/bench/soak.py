"""Soak: the node under a lab's load for as long as a lab runs it, with people coming and going.

The node runs as its own process (package defaults, LLM on unless asked otherwise); this
process publishes `persons` real walking people at `rate_hz` over DDS with the node
benchmark's probe, and every `churn_s` seconds a few of them leave and others arrive: new ids
and ids seen before (a pool of one and a half times `persons` ids, each with its own clip), so
the node keeps creating, losing and removing people. Every `SAMPLE_S` it samples the node's
resident memory, open file descriptors and CPU time (its explainer child apart). The report:
messages dropped, memory and descriptors at the end of the warm-up, at the end and at most,
explanations completed, and per slice of `slice_minutes` the latency (publish -> the first
state at or after the skeleton's stamp; and for labels) and the CPU used. A crash of the node
ends the run early and is reported.
"""
from __future__ import annotations

import os
import random
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from emotion_node.bench.node import BENCH_TOPIC, SETTLE_S, Probe, _clip_paths, running_node

SAMPLE_S = 5.0  # memory, descriptors and CPU sampled this often
CHURN_SHARE = 6  # every churn, one in this many present people leaves (and as many arrive)
POOL_SHARE = 1.5  # ids in the pool per present person: some absent at any time, to return


class Crowd:
    """Who is present when: a seeded pool of ids, `persons` present at once, changing every
    `churn_s` seconds; the SkeletonArray for any instant (each id walks its own clip, looped)."""

    def __init__(self, persons: int, churn_s: float, seed: int = 0) -> None:
        from emotion_node.ros.bag_io import load_tracks
        from emotion_node.ros.convert import rclpy_factory
        pool = max(persons + 1, int(round(persons * POOL_SHARE)))
        self.tracks = load_tracks(_clip_paths(pool))  # body ids '1'..str(pool)
        self.persons, self.churn_s = persons, churn_s
        self._rng = random.Random(seed)
        self.present: List[str] = [t.body_id for t in self.tracks[:persons]]
        self.seen = set(self.present)
        self.returned = 0  # arrivals of ids seen before
        self.arrivals = 0
        self._next_churn = churn_s
        self._types = rclpy_factory()
        self._skeletons: Dict[tuple, Any] = {}  # (id, frame) -> Skeleton message, built once
        self._by_id = {t.body_id: t for t in self.tracks}

    def at(self, t: float) -> Any:
        """The SkeletonArray of second `t` of the run (stamp set when published)."""
        while t >= self._next_churn:
            self._churn()
            self._next_churn += self.churn_s
        return self._types.new('emotion_node/msg/SkeletonArray',
                               header=self._types.new('std_msgs/msg/Header', frame_id='world'),
                               skeletons=[self._skeleton(b, t) for b in self.present])

    def _churn(self) -> None:
        leaving = self._rng.sample(self.present, max(1, self.persons // CHURN_SHARE))
        absent = [t.body_id for t in self.tracks if t.body_id not in self.present]
        arriving = self._rng.sample(absent, min(len(leaving), len(absent)))
        self.present = [b for b in self.present if b not in leaving] + arriving
        self.returned += sum(b in self.seen for b in arriving)
        self.arrivals += len(arriving)
        self.seen.update(arriving)

    def _skeleton(self, body_id: str, t: float) -> Any:
        from emotion_node.ros.convert import BodyFrame, build_skeleton_array
        track = self._by_id[body_id]
        k = int(t * track.fps) % len(track.positions)
        if (body_id, k) not in self._skeletons:
            body = BodyFrame(body_id, 0.0, track.positions[k], track.mask[k], 'world')
            self._skeletons[(body_id, k)] = build_skeleton_array(
                self._types, 0.0, 'world', [body]).skeletons[0]
        return self._skeletons[(body_id, k)]


def _sample(pid: int) -> Dict[str, float]:
    """The node's (and its children's) memory, descriptors and CPU seconds now."""
    import psutil
    root = psutil.Process(pid)
    out = {'rss_mb': root.memory_info().rss / 2**20, 'open_fds': float(root.num_fds()),
           'cpu_s': sum(root.cpu_times()[:2]), 'child_rss_mb': 0.0, 'child_cpu_s': 0.0}
    for child in root.children(recursive=True):
        try:
            out['child_rss_mb'] += child.memory_info().rss / 2**20
            out['child_cpu_s'] += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return out


def _range(values: Sequence[float]) -> Dict[str, float]:
    """{'start', 'end', 'max'} of samples, rounded."""
    return {'start': round(values[0], 1), 'end': round(values[-1], 1),
            'max': round(max(values), 1)} if values else {}


def _slices(probe: Probe, t0_ns: int, minutes: float, slice_minutes: float,
            samples: List[tuple]) -> List[Dict[str, Any]]:
    """Latency and CPU per slice of the run (slices start at minute 0, 5, 10 ...)."""
    sent, lat = probe.answered()
    label_sent, label_lat = probe.answered(labels=True)
    out = []
    start = 0.0
    while start < minutes - 1e-9:
        end = min(start + slice_minutes, minutes)
        row: Dict[str, Any] = {'minute': round(start, 2)}
        for name, at, values in (('', sent, lat), ('label_', label_sent, label_lat)):
            offset = (at - t0_ns) / 60e9
            chosen = values[(offset >= start) & (offset < end)]
            row[f'{name}p50_ms'] = round(float(np.percentile(chosen, 50)), 2) \
                if chosen.size else None
            row[f'{name}p99_ms'] = round(float(np.percentile(chosen, 99)), 2) \
                if chosen.size else None
            row[f'{name}messages'] = int(chosen.size)
        inside = [s for s in samples if start * 60 <= s[0] <= end * 60]
        if len(inside) >= 2:
            span = inside[-1][0] - inside[0][0]
            row['cpu_percent'] = round(100 * (inside[-1][1]['cpu_s'] - inside[0][1]['cpu_s'])
                                       / span, 1)
            row['explainer_cpu_percent'] = round(
                100 * (inside[-1][1]['child_cpu_s'] - inside[0][1]['child_cpu_s']) / span, 1)
        out.append(row)
        start = end
    return out


def soak(persons: int, rate_hz: float, minutes: float, domain_id: int, *, llm: bool = True,
         churn_s: float = 15.0, slice_minutes: float = 5.0, warmup_s: float = 30.0,
         model: str = '', backend: str = 'auto', params: Optional[Dict[str, Any]] = None,
         progress: Any = None) -> Dict[str, Any]:
    """Run the soak (see the module docstring); `warmup_s` before the measured minutes,
    `progress(text)` called once a minute."""
    crowd = Crowd(persons, churn_s)
    parameters: Dict[str, Any] = {'input.topic': BENCH_TOPIC, 'llm.enabled': llm,
                                  'people.max_persons': max(32, 2 * persons),
                                  'model.backend': backend, **(params or {})}
    load_start = os.getloadavg()[0]
    samples: List[tuple] = []  # (seconds into the measured part, _sample())
    crashed, log_tail, sent_total, t0_ns = False, '', 0, 0
    with running_node(parameters, domain_id, model) as (proc, probe, log):
        total = int(round((warmup_s + minutes * 60) * rate_hz))
        warmup = int(round(warmup_s * rate_hz))
        start, next_sample = time.monotonic(), 0.0
        for i in range(total):
            delay = start + i / rate_hz - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if proc.poll() is not None:
                break
            if i == warmup:
                t0_ns, next_sample = time.monotonic_ns(), time.monotonic()
            if i >= warmup and time.monotonic() >= next_sample:
                samples.append((time.monotonic() - t0_ns / 1e9, _sample(proc.pid)))
                next_sample += SAMPLE_S
                if progress and len(samples) % int(60 / SAMPLE_S) == 1:
                    progress(f'minute {samples[-1][0] / 60:.0f}: rss '
                             f'{samples[-1][1]["rss_mb"]:.0f} MB, {len(crowd.present)} '
                             f'present, {crowd.arrivals} arrivals')
            msg = crowd.at(i / rate_hz)
            probe.present = set(crowd.present)
            probe.publish(msg, measured=i >= warmup)
            sent_total += 1
        if proc.poll() is None:
            samples.append((time.monotonic() - t0_ns / 1e9, _sample(proc.pid)))
            time.sleep(SETTLE_S)
        crashed = proc.poll() is not None  # it ended before being asked to
        if crashed:
            log_tail = log.read_text(errors='replace')[-3000:]
    exit_code = proc.returncode  # after the stop: 0 for a clean shutdown
    diag = probe.diagnostics
    published = len(probe.sent)
    # Over the whole run, warm-up included: every message sent that never reached a buffer.
    # Where, so a loss can be traced: never reached the node (of those, how many the node saw
    # missing from the publisher's sequence numbers), dropped from its queue, rejected.
    never_received = sent_total - int(diag.get('messages_received', '0'))
    queue_full = int(diag.get('dropped_queue_full', '0'))
    where: Dict[str, Any] = {
        'never_received': never_received,
        'missed_by_sequence': int(diag.get('messages_missed', '0')),
        'queue_full': queue_full,
        'rejected': {k[len('rejected.'):]: int(v) for k, v in diag.items()
                     if k.startswith('rejected.')}}
    dropped = never_received + queue_full + int(diag.get('rejected_total', '0'))
    values = {k: [s[1][k] for s in samples] for k in ('rss_mb', 'open_fds', 'child_rss_mb')}
    report: Dict[str, Any] = {
        'persons': persons, 'rate_hz': rate_hz, 'minutes': minutes, 'llm': llm,
        'churn_s': churn_s, 'params': dict(params or {}), 'sent': sent_total,
        'published': published,  # measured, after the warm-up
        'dropped': dropped, 'dropped_where': where,
        'unanswered': published - len(probe.answered()[1]),
        'crashed': crashed, 'exit_code': exit_code,
        'rss_mb': _range(values['rss_mb']), 'explainer_rss_mb': _range(values['child_rss_mb']),
        'open_fds': {k: int(v) for k, v in _range(values['open_fds']).items()},
        'explanations': int(diag.get('llm.completed', '0')),
        'llm_counters': {k[4:]: diag[k] for k in diag if k.startswith('llm.')},
        'ids': {'pool': len(crowd.tracks), 'seen': len(crowd.seen),
                'arrivals': crowd.arrivals, 'returned': crowd.returned},
        'persons_tracked_at_end': int(diag.get('persons', '0')),
        'buffer_resets': int(diag.get('buffer_resets', '0')),
        'slices': _slices(probe, t0_ns, minutes, slice_minutes, samples) if t0_ns else [],
        'load_1min': [round(load_start, 2), round(os.getloadavg()[0], 2)]}
    if crashed:
        report['node_log'] = log_tail
    return report


def print_report(report: Dict[str, Any]) -> None:
    """The soak's figures, readable."""
    r = report
    print(f'{r["persons"]} people at {r["rate_hz"]:.0f} Hz for {r["minutes"]} min, LLM '
          f'{"on" if r["llm"] else "off"}, people change every {r["churn_s"]:.0f} s '
          f'({r["ids"]["arrivals"]} arrivals, {r["ids"]["returned"]} of them returning, '
          f'{r["ids"]["seen"]} ids); load {r["load_1min"][0]}-{r["load_1min"][1]}')
    print(f'crashed: {r["crashed"]} (exit code {r["exit_code"]}); published {r["published"]}, '
          f'dropped {r["dropped"]}, unanswered {r["unanswered"]}; explanations '
          f'{r["explanations"]}')
    if r['dropped']:
        print(f'dropped where: {r["dropped_where"]}')
    for name in ('rss_mb', 'explainer_rss_mb', 'open_fds'):
        print(f'{name}: ' + ', '.join(f'{k} {v}' for k, v in r[name].items()))
    print(f'{"minute":>6} {"p50 ms":>8} {"p99 ms":>8} {"label p50":>9} {"label p99":>9} '
          f'{"cpu %":>6} {"llm cpu %":>9}')
    for s in r['slices']:
        print(f'{s["minute"]:>6} {s["p50_ms"]!s:>8} {s["p99_ms"]!s:>8} '
              f'{s["label_p50_ms"]!s:>9} {s["label_p99_ms"]!s:>9} '
              f'{s.get("cpu_percent", "-")!s:>6} {s.get("explainer_cpu_percent", "-")!s:>9}')
