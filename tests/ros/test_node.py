"""The node as its own process over real DDS, fed by replaying bags of real clips.

One node process serves the whole module. What the tests read is recorded once by module-scoped
fixtures, whichever test asks first, so every test also passes alone: `skeleton_replay` replays
a SkeletonArray bag of four people; `markers_replay` reconfigures the node for MarkerArray input
on simulated time with explanations on, replays the same motion as markers, and sets the node
back. The late-subscriber and bad-input tests send their own input.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any, Dict, List

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile
from visualization_msgs.msg import Marker, MarkerArray

from emotion_node.model.explanations import EMOTION_WORDS
from emotion_node.model.labels import hri_label
from emotion_node.model.model_files import default_model_dir
from emotion_node.msg import EmotionState, PersonEmotion, SkeletonArray
from emotion_node.srv import ResetBaseline
from emotion_node.ros.bag_io import Track, load_tracks, write_bag
from emotion_node.ros.convert import BodyFrame, build_skeleton_array, rclpy_factory
from emotion_node.ros.node_main import spawn_node, stop_process
from emotion_node.skeleton.dataset import default_data_root

DOMAIN_ID = 70
RATE_HZ = 10.0
LOST_TIMEOUT_S = 1.0
CLIP_S = 7.0  # seconds of each clip replayed
SHORT_S = 4.0  # person 4 stops being tracked after this long
# Body id -> walk clip style; all four walk side by side, each with its own emotion.
PEOPLE = {'1': 'sad', '2': 'angry', '3': 'tired', '4': 'happy'}
SHORT_ID = '4'
# Share of each person's full-window states whose label must be the clip's style (see the
# module's comment at `test_labels_match_the_clip_styles`).
MIN_LABEL_SHARE = 0.6
MIN_AGREEMENT = 0.9  # MarkerArray vs SkeletonArray labels at the same stamps


def ros_env() -> Dict[str, str]:
    """Environment of the child processes: this module's domain, localhost discovery."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN_ID), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONUNBUFFERED='1')
    env.pop('ROS_LOCALHOST_ONLY', None)
    return env


class Recorder:
    """A probe node in its own context: records outputs, sends inputs and service calls."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=DOMAIN_ID)
        self.node = rclpy.create_node('node_test_probe', context=self.context)
        self.states: List[tuple] = []  # (monotonic receive time, EmotionState)
        self.diagnostics: List[tuple] = []
        self.markers: List[MarkerArray] = []
        latched = QoSProfile(depth=50, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.node.create_subscription(EmotionState, '/emotion_state', self._on_state, latched)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 50)
        self.node.create_subscription(MarkerArray, '/emotion_markers', self.markers.append, 10)
        self.pub = self.node.create_publisher(SkeletonArray, '/skeletons', QoSProfile(depth=50))
        self.params = self.node.create_client(SetParameters, '/emotion_node/set_parameters')
        self.lifecycle = self.node.create_client(ChangeState, '/emotion_node/change_state')
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _on_state(self, msg: EmotionState) -> None:
        self.states.append((time.monotonic(), msg))

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith('emotion_node'):
                self.diagnostics.append({kv.key: kv.value for kv in status.values})

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)

    def spin_until(self, predicate, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return predicate()

    def call(self, client: Any, request: Any, timeout: float = 30.0) -> Any:
        assert client.wait_for_service(timeout_sec=timeout), f'{client.srv_name} not available'
        future = client.call_async(request)
        assert self.spin_until(future.done, timeout), f'{client.srv_name} did not answer'
        return future.result()

    def set_params(self, **values: Any) -> List[Any]:
        kinds = {bool: ParameterType.PARAMETER_BOOL, float: ParameterType.PARAMETER_DOUBLE,
                 str: ParameterType.PARAMETER_STRING, int: ParameterType.PARAMETER_INTEGER}
        fields = {bool: 'bool_value', float: 'double_value', str: 'string_value',
                  int: 'integer_value'}
        request = SetParameters.Request(parameters=[
            ParameterMsg(name=name.replace('__', '.'), value=ParameterValue(
                type=kinds[type(v)], **{fields[type(v)]: v})) for name, v in values.items()])
        return self.call(self.params, request).results

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request()
        request.transition.id = transition_id
        return self.call(self.lifecycle, request).success

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _tracks() -> List[Track]:
    """Four real walk clips side by side; person 4's clip ends early."""
    data = default_data_root() / 'data'
    tracks = load_tracks([data / f'dataset-1_walk_{style}_001.bvh' for style in PEOPLE.values()],
                         duration_s=CLIP_S)
    short = tracks[list(PEOPLE).index(SHORT_ID)]
    n = int(SHORT_S * short.fps)
    short.positions, short.mask = short.positions[:n], short.mask[:n]
    return tracks


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Bags, one node process and a probe; everything started is ended at teardown."""
    model = default_model_dir()
    assert (model / 'model.safetensors').is_file(), f'the default model is missing: {model}'
    tmp = tmp_path_factory.mktemp('node')
    start_ns = (time.time_ns() // 10**9 - 60) * 10**9  # a minute ago: never "in the future"
    tracks = _tracks()
    bags = {kind: write_bag(tmp / kind, tracks, input_kind=kind, start_ns=start_ns).path
            for kind in ('skeleton', 'markers')}
    # One state per inference: what a state says is what the labels say.
    node = spawn_node({'inference.rate_hz': RATE_HZ, 'output.state_on_input': False,
                       'people.lost_timeout_s': LOST_TIMEOUT_S, 'input.depth': 100},
                      tmp / 'node.log', ros_env())
    recorder = Recorder()
    try:
        ready = recorder.spin_until(lambda: recorder.states or node.poll() is not None, 90.0)
        assert ready and node.poll() is None, (tmp / 'node.log').read_text()[-3000:]
        yield {'node': node, 'recorder': recorder, 'bags': bags, 'tmp': tmp,
               'start': start_ns * 1e-9}
    finally:
        recorder.close()
        stop_process(node)


def replay(setup: dict, kind: str, *extra: str) -> None:
    """Play a bag to the node (waiting for its subscription) while the probe records."""
    cmd = [sys.executable, '-m', 'emotion_node', 'replay', str(setup['bags'][kind]),
           '--wait-for-subscribers', '1', '--wait-timeout', '30', *extra]
    with open(setup['tmp'] / f'replay_{kind}.log', 'wb') as log:
        proc = subprocess.Popen(cmd, env=ros_env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        setup['recorder'].spin_until(lambda: proc.poll() is not None, 60.0)
        assert proc.poll() == 0, (setup['tmp'] / f'replay_{kind}.log').read_text()[-2000:]
    finally:
        stop_process(proc)


def persons_by_stamp(states: List[tuple]) -> Dict[float, Dict[str, PersonEmotion]]:
    """{header stamp (s): {body id: PersonEmotion}} of the received states."""
    return {m.header.stamp.sec + m.header.stamp.nanosec * 1e-9: {p.body_id: p for p in m.persons}
            for _, m in states}


@pytest.fixture(scope='module')
def skeleton_replay(setup):
    """Replay the SkeletonArray bag once: the states, markers and last diagnostics it brought,
    and the (start, end) monotonic times of the replay."""
    rec = setup['recorder']
    first, first_markers = len(rec.states), len(rec.markers)
    start = time.monotonic()
    replay(setup, 'skeleton')
    played = time.monotonic()
    rec.spin_for(LOST_TIMEOUT_S + 1.5)  # long enough for person 4... and everyone to go
    assert rec.spin_until(lambda: rec.diagnostics, 5.0), 'no /diagnostics'
    return {'states': rec.states[first:], 'window': (start, played),
            'markers': rec.markers[first_markers:], 'diagnostics': dict(rec.diagnostics[-1])}


def test_replay_skeletons(skeleton_replay):
    # One state per inference, 10 a second of skeleton time; a node held up by a busy machine
    # takes several frames into one inference, so fewer is fine, none is not.
    assert len(skeleton_replay['states']) > RATE_HZ * CLIP_S * 0.5


def _seconds(stamp: Any) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def test_labels_are_inferred_at_the_configured_rate_of_skeleton_time(skeleton_replay):
    # Read on the skeleton stamps, never the wall clock: a busy machine changes nothing here.
    states = [m for _, m in skeleton_replay['states'] if m.persons]
    stamps = [_seconds(m.header.stamp) for m in states]
    assert stamps == sorted(stamps)  # states go out in order
    ends = sorted({_seconds(p.window_end) for m in states for p in m.persons
                   if p.body_id == '1' and p.status == PersonEmotion.STATUS_OK})
    gaps = np.diff(ends)
    assert gaps.min() >= 0.9 / RATE_HZ - 1e-6, gaps.min()  # never more often than the rate
    # 30 Hz frames, a label every third one: nearly always exactly one period apart (a gap is
    # a tick that took in several frames at once).
    assert np.mean(np.abs(gaps - 1 / RATE_HZ) < 1e-3) >= 0.5, gaps


def test_labels_match_the_clip_styles(skeleton_replay):
    # Threshold: MIN_LABEL_SHARE (60 %) of each person's states once the model window is full.
    # EVALUATION.md gives the recipe 85.9 % window accuracy on walks held out from training
    # (leave-one-content-out); the committed model was trained on these walk clips and labels
    # 100 % of these states right (measured), so 60 % leaves room for smoothing and timing.
    shares = {}
    for body_id, style in PEOPLE.items():
        full = [p for _, m in skeleton_replay['states'] for p in m.persons
                if p.body_id == body_id and p.status == PersonEmotion.STATUS_OK
                and p.window_frames >= 30]
        assert len(full) > 10, f'person {body_id} has {len(full)} full-window states'
        shares[body_id] = np.mean([p.label == hri_label(style) for p in full])
        person = full[-1]
        assert person.labels[int(np.argmax(person.scores))] and math.isclose(
            sum(person.scores), 1.0, abs_tol=1e-3)
        assert -1 <= person.valence <= 1 and -1 <= person.arousal <= 1
    assert all(s >= MIN_LABEL_SHARE for s in shares.values()), shares


def test_person_who_stops_goes_lost_then_disappears(skeleton_replay):
    states = skeleton_replay['states']
    statuses = [next((p.status for p in m.persons if p.body_id == SHORT_ID), None)
                for _, m in states]
    seen = [i for i, s in enumerate(statuses) if s is not None]
    assert statuses[seen[0]] == PersonEmotion.STATUS_WARMING_UP
    assert PersonEmotion.STATUS_OK in statuses
    last = seen[-1]
    assert statuses[last] == PersonEmotion.STATUS_LOST  # reported lost ...
    assert statuses[last - 1] == PersonEmotion.STATUS_OK  # ... straight after being ok
    assert last + 1 < len(statuses) and all(s is None for s in statuses[last + 1:])  # then gone
    others = persons_by_stamp(states[last + 1:last + 5])
    assert any('1' in persons for persons in others.values()), 'the others are still tracked'


def test_markers_diagnostics_and_stamps(setup, skeleton_replay):
    markers = skeleton_replay['markers']
    texts = [m.text for array in markers for m in array.markers
             if m.type == Marker.TEXT_VIEW_FACING]
    assert any(t.startswith('1: ') for t in texts) and any(t.startswith('3: ') for t in texts)
    assert markers[-1].markers[0].action == Marker.DELETEALL
    diag = skeleton_replay['diagnostics']
    for key in ('lifecycle_state', 'backend', 'persons', 'input_rate_hz', 'stamp_age_ms',
                'inference_p50_ms', 'inference_p95_ms', 'rejected_total'):
        assert key in diag
    assert diag['lifecycle_state'] == 'active' and float(diag['inference_p95_ms']) > 0
    stamps = sorted(persons_by_stamp(skeleton_replay['states']))
    # Header stamps are skeleton stamps (a minute in the past), never the wall clock.
    assert setup['start'] <= stamps[-1] <= setup['start'] + CLIP_S + 0.01


def test_late_subscriber_gets_the_latched_state(setup):
    rec = setup['recorder']
    assert all(r.successful for r in rec.set_params(inference__rate_hz=0.1))
    rec.spin_for(1.0)  # at most the tick in flight arrives
    last = rec.states[-1][1]
    late: List[EmotionState] = []
    node = rclpy.create_node('late_subscriber', context=rec.context)
    rec.executor.add_node(node)
    try:
        node.create_subscription(EmotionState, '/emotion_state', late.append, QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        assert rec.spin_until(lambda: late, 30.0), 'no latched state'
        assert late[0].header.stamp == last.header.stamp  # the newest, not a fresh tick
        assert late[0].model_hash and len(late[0].model_hash) == 16
    finally:
        rec.executor.remove_node(node)
        node.destroy_node()
        assert all(r.successful for r in rec.set_params(inference__rate_hz=RATE_HZ))


def _good_frame(track: Track, i: int, body_id: str) -> BodyFrame:
    k = i % len(track.positions)
    return BodyFrame(body_id, 0.0, track.positions[k], track.mask[k], 'world')


def _bad_messages(good: BodyFrame, stamp: float, now: float) -> List[tuple]:
    """(expected rejection reason, how many, message) for every kind of bad input."""
    types = rclpy_factory()

    def msg(bodies: List[BodyFrame], at: float = stamp) -> SkeletonArray:
        return build_skeleton_array(types, at, 'world', bodies)

    nan, partial, count, layout = (msg([good]) for _ in range(4))
    for p in nan.skeletons[0].positions:
        p.x = float('nan')
    partial.skeletons[0].positions[5].y = float('inf')  # one joint: repaired, body kept
    partial.skeletons[0].body_id = 'partial'
    count.skeletons[0].positions = count.skeletons[0].positions[:-1]
    layout.skeletons[0].layout = 'no_such_tracker'
    duplicate = msg([good, good])
    huge_joints = msg([good])
    huge_joints.skeletons[0].positions = [Point(x=1.0) for _ in range(5000)]
    crowd = [BodyFrame(f'crowd{i}', 0.0, good.positions, good.mask, 'world') for i in range(40)]
    return [('nan_coordinates', 1, nan), (None, 0, partial), ('wrong_joint_count', 1, count),
            ('unknown_layout', 1, layout), ('duplicate_body_id', 2, duplicate),
            ('wrong_joint_count', 1, huge_joints), ('too_many_bodies', 8, msg(crowd)),
            ('empty_message', 1, msg([])), ('stamp_future', 1, msg([good], now + 3600.0)),
            ('stamp_backwards', 1, msg([good], stamp - 0.3))]


def _walk(rec: Recorder, body_id: str, frames: int, extra: Any) -> tuple:
    """Publish one real walking person at 30 Hz (stamps: now), `extra(i, stamp, good)` after
    each frame; (states received, /diagnostics before, /diagnostics two periods after)."""
    track = _tracks()[0]
    assert rec.spin_until(lambda: rec.diagnostics, 5.0), 'no /diagnostics'
    before = dict(rec.diagnostics[-1])
    first_state = len(rec.states)
    t0 = time.time()
    for i in range(frames):
        stamp = t0 + i / 30.0
        good = _good_frame(track, i, body_id)
        rec.pub.publish(build_skeleton_array(rclpy_factory(), stamp, 'world', [good]))
        extra(i, stamp, good)
        rec.spin_for(max(0.0, t0 + (i + 1) / 30.0 - time.time()))
    states = rec.states[first_state:]
    rec.spin_for(2.5)  # two diagnostics periods
    return states, before, rec.diagnostics[-1]


def test_bad_inputs_are_counted_and_the_node_keeps_publishing(setup, skeleton_replay):
    # After the skeleton replay: its stamps are a minute old, these are now (the newest stamp a
    # state reports only grows).
    rec = setup['recorder']
    expected: Dict[str, int] = defaultdict(int)

    def bad_ones(i: int, stamp: float, good: BodyFrame) -> None:
        if i >= 30 and i % 5 == 0:  # a bad message every few frames
            for reason, n, bad in _bad_messages(good, stamp, time.time()):
                rec.pub.publish(bad)
                if reason:
                    expected[reason] += n
    states, before, after = _walk(rec, 'good', 90, bad_ones)  # 3 s
    counted = {r: int(after.get(f'rejected.{r}', 0)) - int(before.get(f'rejected.{r}', 0))
               for r in expected}
    assert counted == dict(expected)
    assert int(after['repaired_joints']) > int(before['repaired_joints'])
    assert len(states) >= 0.5 * RATE_HZ * 3  # kept publishing throughout
    good = [p for _, m in states for p in m.persons if p.body_id == 'good']
    assert good[-1].status == PersonEmotion.STATUS_OK  # the good person was never disturbed
    assert max(len(m.persons) for _, m in states) <= 32  # people.max_persons bounds the table


def test_stray_old_frames_do_not_wipe_a_persons_window(setup, skeleton_replay):
    # One walking person at 30 Hz with a frame from 5 s ago about once a second (a replayed or
    # second-camera frame): each stray is dropped and counted, the window is kept, the person
    # stays labelled. (Before, every stray restarted the buffer: labelled in 18 % of states.)
    rec = setup['recorder']
    strays = []

    def stray(i: int, stamp: float, good: BodyFrame) -> None:
        if i % 30 == 15:
            rec.pub.publish(build_skeleton_array(rclpy_factory(), stamp - 5.0, 'world', [good]))
            strays.append(i)
    states, before, after = _walk(rec, 'steady', 150, stray)  # 5 s
    assert after['buffer_resets'] == before['buffer_resets'], (before, after)
    assert int(after.get('rejected.stamp_backwards', 0)) - int(
        before.get('rejected.stamp_backwards', 0)) == len(strays)
    seen = [p for _, m in states for p in m.persons if p.body_id == 'steady']
    warm = seen[len(seen) * 2 // 5:]  # past the first 2 s of the 5: the window has filled
    assert warm and np.mean([p.status == PersonEmotion.STATUS_OK for p in warm]) >= 0.9, \
        [p.status for p in seen]


def test_messages_lost_before_the_node_are_counted(setup, skeleton_replay):
    # A DDS history of one message and bursts faster than the node takes them in: DDS drops
    # the overflow without a word. The node counts the gaps in the publisher's sequence
    # numbers, so what it received and what it missed add up to what was sent.
    rec = setup['recorder']
    _reconfigure(rec, input__depth=1)
    try:
        track = _tracks()[0]
        crowd = [_good_frame(track, 0, f'burst{i}') for i in range(30)]
        t0, sent = time.time(), 0

        def send() -> None:
            nonlocal sent
            sent += 1
            rec.pub.publish(build_skeleton_array(rclpy_factory(), t0 + sent / 1000.0, 'world',
                                                 crowd))

        mark = len(rec.diagnostics)  # the counters start again at configure

        def counted() -> Dict[str, int]:
            last = rec.diagnostics[-1] if len(rec.diagnostics) > mark else {}
            return {k: int(last.get(k, 0)) for k in ('messages_received', 'messages_missed')}

        # Until the new subscription has taken one (those before it were never the node's).
        send()
        while not rec.spin_until(lambda: counted()['messages_received'] > 0, 1.5):
            send()
        warm_up = sent
        for _ in range(3):
            for _ in range(200):
                send()
            rec.spin_for(0.3)
        send()  # a last one, alone: every gap before it shows
        seen = sum(counted().values())
        assert rec.spin_until(lambda: sum(counted().values()) >= sent - warm_up + 1, 20.0), \
            (counted(), sent, warm_up)
        rec.spin_for(1.5)  # one more diagnostics period: nothing more comes
        got = counted()
        assert got['messages_missed'] > 0, got  # depth 1 overflowed
        assert sent - warm_up + 1 <= sum(got.values()) <= sent, (got, sent, warm_up, seen)
    finally:
        _reconfigure(rec, input__depth=100)


def test_a_person_is_read_against_their_baseline_and_the_service_resets_it(setup,
                                                                          skeleton_replay):
    # people.baseline on at run time with a short warm-up: a walker's states turn relative once
    # 1 s of them has been seen; ~/reset_baseline forgets theirs (absolute again at once), and
    # /diagnostics counts the people who have one.
    rec = setup['recorder']
    assert all(r.successful for r in rec.set_params(people__baseline='auto',
                                                    people__baseline_min_s=1.0))
    client = rec.node.create_client(ResetBaseline, '/emotion_node/reset_baseline')
    answers: List[Any] = []
    reset_at: List[float] = []

    def reset_midway(i: int, stamp: float, good: BodyFrame) -> None:
        if i == 105:  # 3.5 s in
            answers.append(rec.call(client, ResetBaseline.Request(body_id='regular')))
            reset_at.append(time.monotonic())
    try:
        states, _, after = _walk(rec, 'regular', 150, reset_midway)  # 5 s
        seen = [(t, p) for t, m in states for p in m.persons if p.body_id == 'regular'
                and p.status == PersonEmotion.STATUS_OK]
        assert answers and answers[0].forgotten == 1, answers
        before = [p.baseline_relative for t, p in seen if t < reset_at[0]]
        just_after = [p.baseline_relative for t, p in seen
                      if reset_at[0] + 0.2 < t < reset_at[0] + 0.8]
        assert before and not before[0] and any(before), before  # absolute, then relative
        assert just_after and not any(just_after), just_after
        assert int(after['people_with_baseline']) >= 1, after
        everyone = rec.call(client, ResetBaseline.Request(body_id=''))
        assert everyone.forgotten >= 1 and 'everyone' in everyone.message
    finally:
        assert all(r.successful for r in rec.set_params(people__baseline='off',
                                                        people__baseline_min_s=10.0))
        rec.node.destroy_client(client)


def _reconfigure(rec: Recorder, **values: Any) -> None:
    """Deactivate and clean up the node, set parameters, configure and activate it again."""
    for step in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP):
        assert rec.transition(step)
    assert all(r.successful for r in rec.set_params(**values))
    for step in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert rec.transition(step)


EXPLAIN_TIMEOUT_S = 240.0  # replays until the first explanation; on a busy machine, several


def _explained(states: List[tuple]) -> bool:
    return any(p.explanation for _, m in states for p in m.persons)


@pytest.fixture(scope='module')
def markers_replay(setup, skeleton_replay):
    """Replay the same motion as MarkerArray on simulated time, explanations on; the states
    and diagnostics of the first pass, and of every pass until an explanation arrived (the
    LLM takes seconds, longer on a busy machine: the bag is replayed again until one has, so
    the test waits for the event, not for the machine to be fast). The node is set back
    (SkeletonArray, wall clock, no LLM)."""
    rec = setup['recorder']
    _reconfigure(rec, input__type='markers', use_sim_time=True, llm__enabled=True)
    try:
        ready = rec.spin_until(lambda: rec.diagnostics[-1].get('llm.state') == 'ready', 120.0)
        assert ready, rec.diagnostics[-1]  # the explainer process has loaded
        first, diag_first = len(rec.states), len(rec.diagnostics)
        # At 0.4 times the recorded speed on the bag's clock: the same stamps and labels, and
        # 2.5 times the wall time for the explainer (one request is a reading, a sampled answer
        # and, when the checker rejects it, a greedy one; four people queue) to answer while
        # the people are still tracked.
        replay(setup, 'markers', '--clock', '--rate', '0.4')
        rec.spin_for(1.5)
        one_pass = {'states': rec.states[first:], 'diagnostics': rec.diagnostics[diag_first:]}
        deadline, passes = time.monotonic() + EXPLAIN_TIMEOUT_S, 1
        while not _explained(rec.states[first:]) and time.monotonic() < deadline:
            replay(setup, 'markers', '--clock')
            rec.spin_for(1.5)
            passes += 1
        return dict(one_pass, passes=passes, explained_states=rec.states[first:],
                    explained_diagnostics=rec.diagnostics[diag_first:])
    finally:
        _reconfigure(rec, input__type='skeleton', use_sim_time=False, llm__enabled=False)


def test_markers_input_gives_the_same_labels(skeleton_replay, markers_replay):
    skeleton = persons_by_stamp(skeleton_replay['states'])
    stamps = np.array(sorted(skeleton))
    agree = []
    for stamp, persons in persons_by_stamp(markers_replay['states']).items():
        near = stamps[np.argmin(np.abs(stamps - stamp))]
        if abs(near - stamp) > 0.05:
            continue
        for body_id, p in persons.items():
            q = skeleton[near].get(body_id)
            if q is not None and p.status == q.status == PersonEmotion.STATUS_OK:
                agree.append(p.label == q.label)
    assert len(agree) > 50 and np.mean(agree) >= MIN_AGREEMENT, (len(agree), np.mean(agree))
    # On simulated time the node's clock is the bag's: the newest skeleton is fresh.
    ages = [float(d['stamp_age_ms']) for d in markers_replay['diagnostics']
            if d.get('persons', '0') != '0']
    assert ages and min(ages) < 500.0, ages


def test_explanations_match_the_published_labels(markers_replay):
    word = {hri_label(style): text for style, text in EMOTION_WORDS.items()}
    explained = [(m.header.stamp, p) for _, m in markers_replay['explained_states']
                 for p in m.persons if p.explanation]
    assert explained, (f'no explanation arrived in {markers_replay["passes"]} passes of the '
                       f'markers bag ({EXPLAIN_TIMEOUT_S:.0f} s)')
    for stamp, p in explained:
        # A person who has just gone keeps their last label and its explanation.
        assert p.status in (PersonEmotion.STATUS_OK, PersonEmotion.STATUS_LOST)
        assert p.explanation.lower().startswith(f'emotion: {word[p.label]}.'), (p.label,
                                                                                p.explanation)
        assert p.explainer_label in word, p.explainer_label  # its own reading comes with it
        explained_at = p.explanation_stamp.sec + p.explanation_stamp.nanosec * 1e-9
        assert 0 < explained_at <= stamp.sec + stamp.nanosec * 1e-9 + 1e-6
    diag = markers_replay['explained_diagnostics'][-1]
    assert int(diag['llm.completed']) >= 1 and diag['llm.failed'] == '0'
