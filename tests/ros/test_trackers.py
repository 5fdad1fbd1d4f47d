"""ZED, yolo_ros and ROS4HRI bodies in, ROS4HRI out: the node as its own process over real DDS.

No wheel provides zed_msgs, yolo_msgs, hri_msgs or tf2_msgs, so the session builds stand-ins of
them with
colcon (tests/ros/interfaces, once, cached) and every process of these tests runs with that
install in front of its environment, as a sourced workspace would put the real packages. Bags
are written by `emotion-node bag --input zed|yolo|hri` from real clips (the ROS4HRI one with the
second person coming into view a second after the first, both leaving the tracked list at the
end, joints as TF frames at 30 Hz read back in the world frame) and played to the node by
`emotion-node replay`, every scenario at once in a ROS domain of its own. What the node
publishes is compared with the node's own pipeline fed, in this process, the clips' canonical
joints less those the tracker's layout lacks: the same scores at every stamp means every joint
came through the bag, DDS and the adapter by name. The Expression topics are recorded by
tests/ros/expression_probe.py, a process of their own.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest
import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile

from emotion_node import cli
from emotion_node.model.labels import EMOTION_STYLES, hri_label
from emotion_node.msg import EmotionState, PersonEmotion
from emotion_node.ros.bag_io import load_tracks, read_bag, track_frames
from emotion_node.ros.convert import BodyFrame, stamp_to_ns
from emotion_node.ros.hri_output import expression_of
from emotion_node.ros.node_main import spawn, spawn_node, stop_process
from emotion_node.ros.params import NodeParams
from emotion_node.ros.pipeline import EmotionPipeline, load_model
from emotion_node.skeleton.dataset import default_data_root
from emotion_node.skeleton.layouts import layout_presence

CLIP_S = 3.0
STYLES = ('sad', 'happy')  # person 1, person 2
EXPRESSION_TOPICS = ['/humans/bodies/body_1/expression', '/humans/bodies/body_2/expression']
NODE_PARAMS: Dict[str, Any] = {
    'inference.on_input': True, 'inference.rate_hz': 10.0, 'smoothing.enabled': False,
    'smoothing.neutral_below': 0.0,
    'input.reliability': 'reliable', 'input.depth': 100, 'input.queue_size': 1000,
    'llm.enabled': False, 'output.hri': True, 'people.lost_timeout_s': 2.0}
# case -> (ROS domain, input.type, bag options, layout the tracker sees, extra node parameters)
CASES = {
    'zed_body38': (80, 'zed', ['--body-format', 'BODY_38'], 'zed_body38', {}),
    'zed_body18': (81, 'zed', ['--body-format', 'BODY_18'], 'zed_body18',
                   {'people.max_persons': 1}),  # person 2 beyond the bound: no publisher
    'yolo': (82, 'yolo', [], 'coco17', {}),
    'hri': (86, 'hri', ['--stagger', '1'], 'ros4hri', {'input.fixed_frame': 'world',
                                                       'input.tf_backend': 'builtin'}),
}
FAULT_DOMAINS = {'zed': 83, 'yolo': 84}
HRI_FAULT_DOMAIN = 87
MISSING_DOMAIN = 85
SCORE_ATOL = 1e-5  # same model, same frames; onnxruntime threads may sum in another order


def ros_env(domain: int) -> Dict[str, str]:
    """os.environ of a child process in its own domain, discovering on localhost only."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONUNBUFFERED='1')
    env.pop('ROS_LOCALHOST_ONLY', None)
    return env


class Recorder:
    """Records /emotion_state and /diagnostics in one domain (standard and our own messages:
    this process needs none of the stand-ins)."""

    def __init__(self, domain: int) -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node('trackers_test_probe', context=self.context)
        self.states: List[EmotionState] = []
        self.diagnostics: List[Dict[str, str]] = []
        self.node.create_subscription(EmotionState, '/emotion_state', self.states.append,
                                      QoSProfile(depth=1000))
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 50)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith('emotion_node'):
                self.diagnostics.append({kv.key: kv.value for kv in status.values})

    def spin_until(self, predicate, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not predicate():
            self.executor.spin_once(timeout_sec=0.02)
        return bool(predicate())

    def fresh_diagnostics(self, timeout: float = 10.0) -> Dict[str, str]:
        """The next /diagnostics after now (counters include everything before it)."""
        seen = len(self.diagnostics)
        assert self.spin_until(lambda: len(self.diagnostics) > seen, timeout), 'none came'
        return self.diagnostics[-1]

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def json_lines(text: str) -> List[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{')]


def probe_graph(log: Path) -> Optional[List[str]]:
    """The Expression topics with a publisher, as the probe last saw them."""
    graphs = [r['published'] for r in json_lines(log.read_text()) if r['kind'] == 'graph']
    return graphs[-1] if graphs else None


@pytest.fixture(scope='module')
def clips() -> List[Path]:
    data = default_data_root() / 'data'
    return [data / f'dataset-1_walk_{style}_001.bvh' for style in STYLES]


@pytest.fixture(scope='module')
def start_ns() -> int:
    return (time.time_ns() // 10**9 - 60) * 10**9  # a minute ago: never "in the future"


@pytest.fixture(scope='module')
def bags(tracker_interfaces, tmp_path_factory, clips, start_ns) -> Dict[str, Path]:
    """One bag per case, written by `emotion-node bag` (in parallel: separate processes)."""
    tmp = tmp_path_factory.mktemp('tracker_bags')
    env = tracker_interfaces.env(ros_env(MISSING_DOMAIN))
    procs = {}
    for case, (_, kind, options, _, _) in CASES.items():
        cmd = [sys.executable, '-m', 'emotion_node', 'bag', *map(str, clips), '--out',
               str(tmp / case), '--input', kind, *options, '--duration', str(CLIP_S),
               '--start-time', str(start_ns * 1e-9)]
        procs[case] = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
    for case, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, (case, out)
    return {case: tmp / case for case in CASES}


@pytest.fixture(scope='module')
def model():
    return load_model(NodeParams())


def reference(model, clips, start_ns: int, layout: str, params: Dict[str, Any],
              stagger_s: float = 0.0) -> Dict:
    """(body id, window end ms) -> (status, scores, valid joint fraction): the node's pipeline,
    in this process, fed the clips' joints that `layout` has, at the bag's stamps."""
    p = NodeParams().with_values(params)
    pipeline = EmotionPipeline.from_params(model, p)
    present = layout_presence(layout)
    out = {}
    tracks = load_tracks(clips, duration_s=CLIP_S, stagger_s=stagger_s)
    for stamp_ns, bodies in track_frames(tracks, start_ns):
        sec, nsec = divmod(stamp_ns, 10**9)
        stamp = float(sec) + float(nsec) * 1e-9  # as the node reads a header stamp
        pipeline.add([BodyFrame(b.body_id, stamp, np.where((b.mask & present)[:, None],
                                                           b.positions, 0.0), b.mask & present,
                                b.frame_id) for b in bodies], now=stamp)
        for r in pipeline.step(now=stamp):
            out[(r.body_id, round(r.window_end * 1e3))] = (r.status, r.scores.copy(),
                                                         r.valid_joint_fraction)
    return out


def run_case(tmp: Path, env: Dict[str, str], rec: Recorder, params: Dict[str, Any],
             bag: Path) -> Dict[str, Any]:
    """Start the node and the expression probe; play the bag; wait until every person is gone;
    return what `rec` (made in the main thread, closed here) and the probe recorded."""
    node = spawn_node(params, tmp / 'node.log', env)
    probe = spawn([sys.executable, str(Path(__file__).with_name('expression_probe.py')),
                   *EXPRESSION_TOPICS], tmp / 'probe.log', env)
    try:
        assert rec.spin_until(lambda: rec.diagnostics or node.poll() is not None, 60.0) and \
            node.poll() is None, (tmp / 'node.log').read_text()[-3000:]
        assert rec.spin_until(lambda: '"ready"' in (tmp / 'probe.log').read_text(), 30.0)
        replay = spawn([sys.executable, '-m', 'emotion_node', 'replay', str(bag),
                        '--wait-for-subscribers', '1', '--wait-timeout', '30'],
                       tmp / 'replay.log', env)
        try:
            assert rec.spin_until(lambda: replay.poll() is not None, 90.0)
            assert replay.returncode == 0, (tmp / 'replay.log').read_text()[-2000:]
        finally:
            stop_process(replay)
        gone = rec.spin_until(lambda: rec.states and not rec.states[-1].persons, 15.0)
        assert gone, 'the people were never removed'
        diagnostics = rec.fresh_diagnostics()  # after everything was drained
        assert node.poll() is None, (tmp / 'node.log').read_text()[-3000:]
        rec.spin_until(lambda: probe_graph(tmp / 'probe.log') == [], 10.0)  # publishers gone
        return {'states': list(rec.states), 'diagnostics': diagnostics,
                'log': (tmp / 'node.log').read_text(),
                'probe': json_lines((tmp / 'probe.log').read_text())}
    finally:
        rec.close()
        stop_process(probe)  # first: what it saw last is the node's doing, not its exit
        stop_process(node)


def fault_bag(path: Path, kind: str, typestore, faults, clips: List[Path]) -> Dict[str, str]:
    """Ten messages of broken ZED or yolo_ros bodies 1-6 and a whole body 7, stamped now;
    return the rejection reason expected for each broken body."""
    from rosbags.rosbag2 import Writer

    from emotion_node.ros.bag_io import BAG_VERSION, rosbags_factory
    from emotion_node.ros.inputs import INPUT_KINDS
    spec, types = INPUT_KINDS[kind], rosbags_factory(typestore)
    track = load_tracks(clips[:1], duration_s=1.0)[0]
    now_ns = time.time_ns() - 10**9
    with Writer(path, version=BAG_VERSION) as writer:
        conn = writer.add_connection(spec.default_topic, spec.msgtype, typestore=typestore)
        for i in range(10):
            stamp_ns = now_ns + i * 10**8
            msg = spec.build(types, divmod(stamp_ns, 10**9), 'world',
                             [BodyFrame(str(k), 0.0, track.positions[i], track.mask[i], 'world')
                              for k in range(1, 8)], None)
            want = getattr(faults, kind)(msg)
            writer.write(conn, stamp_ns, typestore.serialize_cdr(msg, spec.msgtype))
    return want


@pytest.fixture(scope='module')
def runs(tracker_interfaces, interface_typestore, tracker_faults, tmp_path_factory, bags,
         clips) -> Dict[str, Any]:
    """Every scenario played at once, each in its own ROS domain: they wait on playback at
    recorded speed far more than they compute. Scenario -> what it recorded, or its error."""
    jobs, wants = {}, {}
    for name, (domain, kind, _, _, extra) in CASES.items():
        jobs[name] = (domain, {**NODE_PARAMS, 'input.type': kind, **extra}, bags[name])
    for kind, domain in FAULT_DOMAINS.items():
        bag = tmp_path_factory.mktemp(f'faults_{kind}') / 'bag'
        wants[kind] = fault_bag(bag, kind, interface_typestore, tracker_faults, clips)
        jobs[f'faults_{kind}'] = (domain, {**NODE_PARAMS, 'input.type': kind}, bag)
    bag = tmp_path_factory.mktemp('faults_hri') / 'bag'
    hri_fault_bag(bag, interface_typestore, clips)
    jobs['faults_hri'] = (HRI_FAULT_DOMAIN, {**NODE_PARAMS, **HRI_FAULT_PARAMS}, bag)
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(run_case, tmp_path_factory.mktemp(name),
                                     tracker_interfaces.env(ros_env(domain)), Recorder(domain),
                                     params, bag)
                   for name, (domain, params, bag) in jobs.items()}
        out: Dict[str, Any] = {}
        for name, future in futures.items():
            try:
                out[name] = future.result()
            except Exception as err:  # kept: the scenario's own tests raise it, not all of them
                out[name] = err
    for kind, want in wants.items():
        if isinstance(out[f'faults_{kind}'], dict):
            out[f'faults_{kind}']['want'] = want
    return out


def scenario(runs: Dict[str, Any], name: str) -> Dict[str, Any]:
    """One scenario's recording; its error, when it had one, fails the test that asks."""
    if isinstance(runs[name], BaseException):
        raise runs[name]
    return runs[name]


@pytest.fixture(scope='module', params=list(CASES))
def case(request, runs, model, clips, start_ns):
    name = request.param
    _, kind, options, layout, extra = CASES[name]
    params = {**NODE_PARAMS, 'input.type': kind, **extra}
    stagger = float(options[options.index('--stagger') + 1]) if '--stagger' in options else 0.0
    return dict(scenario(runs, name), name=name, layout=layout, params=params,
                reference=reference(model, clips, start_ns, layout, params, stagger))


def tracked(case: Dict[str, Any]) -> List[str]:
    """The body ids the node may track in a case (people.max_persons bounds them)."""
    return ['1'] if case['params'].get('people.max_persons') == 1 else ['1', '2']


def people(states: List[EmotionState]) -> List[PersonEmotion]:
    return [p for m in states for p in m.persons]


def key(p) -> tuple:
    return p.body_id, round(stamp_to_ns(p.window_end) / 1e6)


def test_every_joint_arrives_by_name(case):
    """The node's scores at every stamp are the pipeline's on the layout's canonical joints."""
    diag = case['diagnostics']
    assert diag['dropped_queue_full'] == '0'
    assert {p.body_id for p in people(case['states'])} == set(tracked(case))
    compared = 0
    for p in people(case['states']):
        if p.status == PersonEmotion.STATUS_LOST:
            continue
        status, scores, fraction = case['reference'][key(p)]
        assert p.status == status, key(p)
        assert p.valid_joint_fraction == pytest.approx(fraction, abs=1e-6)
        if status == PersonEmotion.STATUS_OK:
            np.testing.assert_allclose(p.scores, scores, atol=SCORE_ATOL, err_msg=str(key(p)))
            assert p.label == hri_label(EMOTION_STYLES[int(np.argmax(scores))])
            compared += 1
    assert compared > 30 * (CLIP_S - 1.0) * 0.5, compared  # most frames after the 1 s warm-up
    full = [p for p in people(case['states']) if p.window_frames == 30]
    coverage = int(layout_presence(case['layout']).sum())  # 21, 15, 14 or 13 of the 21 joints
    assert full and all(p.valid_joint_fraction == pytest.approx(coverage / 21) for p in full)


def test_rejections_and_bounds_are_counted(case):
    diag = case['diagnostics']
    if case['params'].get('people.max_persons') == 1:
        assert int(diag['rejected.too_many_bodies']) > 30 * (CLIP_S - 0.5)  # person 2, always
        assert int(diag['rejected_total']) == int(diag['rejected.too_many_bodies'])
    else:
        assert diag['rejected_total'] == '0', diag
    assert int(diag['repaired_joints']) == 0  # joints a tracker does not see are not damage


def test_one_expression_per_body_with_the_state_values(case):
    state = {key(p): p for p in people(case['states']) if p.status == PersonEmotion.STATUS_OK}
    expressions = [r for r in case['probe'] if r['kind'] == 'expression']
    to_expression = {hri_label(s): expression_of(s) for s in EMOTION_STYLES}
    assert {r['topic'] for r in expressions} == {f'/humans/bodies/body_{b}/expression'
                                                for b in tracked(case)}
    matched = 0
    for r in expressions:
        body = r['topic'].split('/')[3].removeprefix('body_')
        p = state.get((body, round(r['stamp_ns'] / 1e6)))
        assert p is not None, r  # every expression is of a labelled state at its stamp
        assert r['expression'] == to_expression[p.label]
        assert (r['valence'], r['arousal'], r['confidence']) == pytest.approx(
            (p.valence, p.arousal, p.confidence), abs=1e-6)
        assert r['frame_id'] == 'world'
        matched += 1
    assert matched >= 0.8 * len(state), (matched, len(state))


def test_expression_publishers_come_and_go_with_the_bodies(case):
    graphs = [[t for t in r['published'] if t.endswith('/expression')]  # not the tracked ids
              for r in case['probe'] if r['kind'] == 'graph']
    wanted = sorted(f'/humans/bodies/body_{b}/expression' for b in tracked(case))
    assert wanted in graphs, graphs  # while tracked ...
    assert all(set(g) <= set(wanted) for g in graphs)  # ... never more than the bound ...
    assert graphs[-1] == [], graphs  # ... and gone with them


@pytest.fixture(scope='module', params=list(FAULT_DOMAINS))
def faults(request, runs):
    """A bag of broken ZED or yolo_ros messages played to the node: what it counted."""
    return scenario(runs, f'faults_{request.param}')


def test_broken_tracker_messages_are_counted_and_logged(faults):
    diag, want = faults['diagnostics'], faults['want']
    for reason in set(want.values()):
        n = sum(1 for r in want.values() if r == reason)
        assert int(diag.get(f'rejected.{reason}', 0)) == 10 * n, (reason, diag)
        assert f'rejected input ({reason})' in faults['log']
    assert int(diag['bodies_accepted']) == 10  # the whole body of every message
    assert {p.body_id for p in people(faults['states'])} == {'7'}  # tracked; the others never
    assert 'Traceback' not in faults['log']


@pytest.mark.parametrize('params, package', [
    ({'input.type': 'zed'}, 'zed_msgs'), ({'input.type': 'yolo'}, 'yolo_msgs'),
    ({'output.hri': True}, 'hri_msgs'), ({'input.type': 'hri'}, 'hri_msgs')])
def test_a_missing_package_fails_configure_naming_it(tmp_path, params, package):
    import importlib.util
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f'{package} is installed here')
    node = spawn_node({'llm.enabled': False, **params}, tmp_path / 'node.log',
                      ros_env(MISSING_DOMAIN))
    try:
        assert node.wait(timeout=60) == 1  # autostart: configure failed
    finally:
        stop_process(node)
    lines = [line for line in (tmp_path / 'node.log').read_text().splitlines() if package in line]
    assert len(lines) == 1, lines
    assert 'configure failed' in lines[0] and 'not installed' in lines[0], lines
    assert 'Traceback' not in (tmp_path / 'node.log').read_text()


@pytest.mark.parametrize('kind, package', [('zed', 'zed_msgs'), ('yolo', 'yolo_msgs'),
                                           ('hri', 'hri_msgs')])
def test_the_bag_command_names_a_missing_package(tmp_path, clips, capsys, kind, package):
    import importlib.util
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f'{package} is installed here')
    assert cli.main(['bag', str(clips[0]), '--out', str(tmp_path / 'b'), '--input', kind]) == 1
    err = capsys.readouterr().err
    assert package in err and 'not installed' in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / 'b').exists()


def test_tracker_bags_carry_the_installed_definitions(tracker_interfaces, bags):
    """What `ros2 bag play` needs: the type hashes the installed packages were built with."""
    for case in CASES:
        info = yaml.safe_load((bags[case] / 'metadata.yaml').read_text())
        for topic in info['rosbag2_bagfile_information']['topics_with_message_count']:
            meta = topic['topic_metadata']
            package, _, name = meta['type'].split('/')
            built = json.loads((tracker_interfaces.prefix / 'share' / package / 'msg' /
                                f'{name}.json').read_text())
            assert meta['type_description_hash'] == next(
                h['hash_string'] for h in built['type_hashes'] if h['type_name'] == meta['type'])
        if case != 'hri':  # one message per frame; the ROS4HRI bag is counted by its own test
            assert topic['message_count'] == int(CLIP_S * 30)
            assert len(list(read_bag(bags[case]))) == int(CLIP_S * 30)


def test_the_hri_bag_is_a_tracker_with_tf(bags):
    """Tracked ids at every frame (plus the closing empty list), each body's root and its links
    in two /tf messages per frame at 30 Hz, the camera once on latched /tf_static."""
    from emotion_node.ros.bag_io import latched_topics
    info = yaml.safe_load((bags['hri'] / 'metadata.yaml').read_text())
    counts = {t['topic_metadata']['name']: t['message_count']
              for t in info['rosbag2_bagfile_information']['topics_with_message_count']}
    frames = int(CLIP_S * 30)
    instants = frames + 30  # the second person one second later
    assert counts == {'/humans/bodies/tracked': instants + 1, '/tf': instants + 2 * frames,
                      '/tf_static': 1}
    assert latched_topics(bags['hri']) == {'/tf_static'}
    lists = [m.ids for t, _, m in read_bag(bags['hri']) if t == '/humans/bodies/tracked']
    assert lists[0] == ['1'] and ['1', '2'] in lists and lists[-2] == ['2'] and lists[-1] == []


# Every way a ROS4HRI tracker's TF can break, one body each (body 7 whole), ten frames at 10 Hz.
HRI_FAULT_PARAMS = {'input.type': 'hri', 'input.fixed_frame': 'world',
                    'input.tf_backend': 'builtin', 'input.tf_max_age_s': 0.1}


def hri_fault_bag(path: Path, typestore, clips: List[Path]) -> None:
    """Body 3's elbow and wrist frames parent each other (a loop); body 4's root hangs from a
    frame joined to nothing; body 5 is listed but never has a frame; body 6's links come once,
    then only its root (stale); one transform a frame gets has a zero quaternion."""
    from rosbags.rosbag2 import Writer

    from emotion_node.ros.adapters import hri
    from emotion_node.ros.bag_io import BAG_VERSION, _offered_qos, rosbags_factory
    types = rosbags_factory(typestore)
    track = load_tracks(clips[:1], duration_s=1.0)[0]
    now_ns = time.time_ns() - 10**9
    with Writer(path, version=BAG_VERSION) as writer:
        ids = writer.add_connection(hri.DEFAULT_TOPIC, hri.TRACKED_TYPE, typestore=typestore)
        tf = writer.add_connection(hri.TF_TOPIC, hri.TF_TYPE, typestore=typestore)
        static = writer.add_connection(hri.TF_STATIC_TOPIC, hri.TF_TYPE, typestore=typestore,
                                       offered_qos_profiles=[_offered_qos(latched=True)])

        def write(conn, stamp_ns, msg):
            writer.write(conn, stamp_ns, typestore.serialize_cdr(msg, conn.msgtype))

        write(static, now_ns, types.new(hri.TF_TYPE, transforms=[
            hri.camera_transform(types, divmod(now_ns, 10**9), 'world')]))
        for i in range(10):
            stamp_ns = now_ns + i * 10**8
            stamp = divmod(stamp_ns, 10**9)
            bodies = [BodyFrame(b, 0.0, track.positions[i], track.mask[i], 'world')
                      for b in ('3', '4', '5', '6', '7')]
            write(ids, stamp_ns, hri.build_tracked(types, stamp, 'camera',
                                                   [b.body_id for b in bodies]))
            for body in bodies:
                if body.body_id == '5':
                    continue
                roots, links = hri.build_body_tf(types, stamp, 'world', body)
                if body.body_id == '3':  # the elbow hangs from the wrist that hangs from it
                    elbow = next(t for t in links.transforms if t.child_frame_id == 'l_elbow_3')
                    elbow.header.frame_id = 'l_wrist_3'
                if body.body_id == '4':
                    roots.transforms[0].header.frame_id = 'nowhere'
                if body.body_id == '7':
                    bad = roots.transforms[0]
                    links.transforms.append(types.new(
                        'geometry_msgs/msg/TransformStamped', header=bad.header,
                        child_frame_id='broken_frame', transform=types.new(
                            'geometry_msgs/msg/Transform', rotation=types.new(
                                'geometry_msgs/msg/Quaternion', x=0.0, y=0.0, z=0.0, w=0.0))))
                write(tf, stamp_ns, roots)
                if body.body_id != '6' or i == 0:
                    write(tf, stamp_ns, links)


def test_broken_ros4hri_tf_is_counted_and_logged(runs):
    faults = scenario(runs, 'faults_hri')
    diag, log = faults['diagnostics'], faults['log']
    assert int(diag['rejected.tf_loop']) == 10  # every frame of body 3: its arm masked
    assert int(diag['rejected.tf_bad_transform']) == 10
    assert int(diag['rejected.tf_missing_link']) >= 9  # body 4 (the last frame waits)
    assert int(diag['rejected.tf_stale']) >= 5  # body 6 once its links are 0.1 s old
    assert int(diag['rejected.body_without_frames']) >= 5  # body 5, listed ten times
    for reason in ('tf_loop', 'tf_bad_transform', 'tf_missing_link', 'tf_stale',
                   'body_without_frames'):
        assert f'rejected input ({reason})' in log
    assert {p.body_id for p in people(faults['states'])} >= {'3', '7'}
    assert not {p.body_id for p in people(faults['states'])} & {'4', '5'}
    assert 'Traceback' not in log
