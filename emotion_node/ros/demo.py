"""The demo: real recordings of several people replayed to the node, and what it says, printed.

Builds a bag from real clips of the motion dataset (one person per emotion, side by side) in a
temporary folder, starts the emotion node and `emotion-node replay BAG --loop`, prints the
EmotionState stream as it arrives (who, label, confidence, explanation when present), then stops
everything it started. With a video instead (`run_video`), the camera node turns it into
skeletons for the node. `emotion-node demo` is its front door.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

DEMO_STYLES = ('sad', 'happy', 'angry', 'tired', 'proud', 'not-confident', 'normal')
READY_TIMEOUT_S = 120.0
BAG_S = 60.0  # each clip is repeated to this length; the replay loops after it


def demo_clips(content: str, people: int) -> List[Tuple[str, Path]]:
    """(style, BVH path) of the first `people` demo styles that have this content."""
    from emotion_node.skeleton.dataset import index_clips
    from emotion_node.skeleton.dataset import DATASET_1
    # Dataset 1 alone has every emotion on the same actions (and one take per style).
    found = {c.style: c.path for c in index_clips()
             if c.dataset == DATASET_1.key and c.content == content and c.take == 1}
    chosen = [(s, found[s]) for s in DEMO_STYLES if s in found][:people]
    if len(chosen) < people:
        raise ValueError(f'content {content!r} has clips of only {len(chosen)} demo styles')
    return chosen


def tile(track: Any, seconds: float) -> Any:
    """Repeat a clip for `seconds`, each repeat continuing from where the last one ended.

    Only the pose jumps back at a repeat; the horizontal path stays continuous, so nobody
    teleports (and the replay needs to loop, which restarts every buffer, only rarely).
    """
    import numpy as np
    pos, mask = track.positions, track.mask  # (T, 21, 3), (T, 21)
    shift = np.zeros(3, np.float32)
    shift[:2] = pos[-1, 0, :2] - pos[0, 0, :2] if mask[0, 0] and mask[-1, 0] else 0.0
    reps = max(1, int(np.ceil(seconds * track.fps / len(pos))))
    tiled = [np.where(mask[..., None], pos + k * shift, 0.0) for k in range(reps)]
    track.positions = np.concatenate(tiled).astype(np.float32)
    track.mask = np.concatenate([mask] * reps)
    return track


class Printer:
    """Turns EmotionState messages into readable lines, one per change (or every few s)."""

    def __init__(self, who: Dict[str, str], every_s: float) -> None:
        from emotion_node.msg import PersonEmotion
        from emotion_node.ros.outputs import STATUS_TEXT
        self.ok, self.status_text = PersonEmotion.STATUS_OK, STATUS_TEXT
        self.who, self.every_s = who, every_s
        self.start = time.monotonic()
        self.last: Dict[str, Tuple[Any, float]] = {}  # body -> (what was printed, when)
        self.explained: Dict[str, str] = {}  # body -> last explanation printed
        self.labels: Dict[str, Counter] = {b: Counter() for b in who}
        self.states = 0
        self.tracking = False  # a state with someone in it has come

    def __call__(self, msg: Any) -> None:
        self.states += 1
        self.tracking = self.tracking or bool(msg.persons)
        now = time.monotonic() - self.start
        for p in msg.persons:
            if p.status == self.ok:
                self.labels.setdefault(p.body_id, Counter())[p.label] += 1
            key = (p.status, p.label)
            shown, when = self.last.get(p.body_id, (None, -1e9))
            if key != shown or now - when >= self.every_s:
                self.last[p.body_id] = (key, now)
                print(self._line(now, p), flush=True)
            if p.explanation and self.explained.get(p.body_id) != p.explanation:
                self.explained[p.body_id] = p.explanation  # new words only, not every refresh
                second = '' if p.explainer_label in ('', p.label) else \
                    f' (the explainer reads {p.explainer_label})'
                print(f'{"":9}person {p.body_id} says why{second}: "{p.explanation}"',
                      flush=True)

    def _line(self, now: float, p: Any) -> str:
        who = f'person {p.body_id} ({self.who.get(p.body_id, "on camera")})'
        if p.status != self.ok:
            return f'[{now:5.1f} s] {who:<32} {self.status_text.get(p.status, "?")}'
        return (f'[{now:5.1f} s] {who:<32} {p.label:<14} {p.confidence:4.0%}   '
                f'valence {p.valence:+.2f}  arousal {p.arousal:+.2f}')

    def summary(self) -> None:
        print(f'\n{self.states} EmotionState messages. Labels while tracked:')
        found = {b: 'on camera' for b in sorted(self.labels) if b not in self.who}
        for body, style in {**self.who, **found}.items():
            counts = self.labels.get(body, Counter())
            total = sum(counts.values())
            top = ', '.join(f'{label} {n / total:.0%}' for label, n in counts.most_common(3))
            print(f'  person {body} ({style}): {top or "no label yet"}')


def watch(printer: Printer, node_proc: subprocess.Popen, duration: float) -> bool:
    """Spin a subscriber until `duration` s after the first state with someone in it (the
    replay has started: a busy machine shortens nothing); False if none came."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile

    from emotion_node.msg import EmotionState
    context = Context()
    rclpy.init(context=context)  # ROS_DOMAIN_ID as the node and the replay read it
    node = rclpy.create_node('emotion_demo_viewer', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    node.create_subscription(EmotionState, '/emotion_state', printer, QoSProfile(
        depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not printer.tracking and time.monotonic() < deadline and \
                node_proc.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        if not printer.tracking:
            return False
        end = time.monotonic() + duration
        while time.monotonic() < end and node_proc.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        return True
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def watch_then_stop(printer: Printer, node: subprocess.Popen, source: subprocess.Popen,
                    duration: float) -> bool:
    """`watch` (Ctrl-C ends it early, not in error), then stop the input's source and the node
    in that order; False when the node published nothing."""
    from emotion_node.ros.node_main import stop_process
    try:
        return watch(printer, node, duration)
    except KeyboardInterrupt:
        return True
    finally:
        stop_process(source)
        stop_process(node)


def run(clips: List[Tuple[str, Path]], content: str, duration_s: float, every_s: float,
        parameters: Dict[str, Any]) -> Optional[str]:
    """Build the bag, start node and replay, print the stream, stop both, print the summary.

    `clips`: (style, BVH path) per person, from `demo_clips`; `parameters`: node parameters
    over the package's parameters file. None when it ran, else the node's log (it published
    nothing).
    """
    from emotion_node.ros.bag_io import load_tracks, write_bag
    from emotion_node.ros.node_main import package_params_file, spawn, spawn_node
    who = {str(i + 1): f'{style} {content}' for i, (style, _) in enumerate(clips)}
    print(f'{len(clips)} people side by side, from real recordings: '
          + ', '.join(f'{b}: {w}' for b, w in who.items()))
    with tempfile.TemporaryDirectory(prefix='emotion_demo_') as tmp:
        tracks = [tile(t, BAG_S) for t in load_tracks([p for _, p in clips])]
        bag = write_bag(Path(tmp) / 'demo_bag', tracks).path
        node = spawn_node(parameters, Path(tmp) / 'node.log', params_file=package_params_file())
        replay = spawn([sys.executable, '-m', 'emotion_node', 'replay', str(bag), '--loop',
                        '--wait-for-subscribers', '1', '--wait-timeout', str(READY_TIMEOUT_S)],
                       Path(tmp) / 'replay.log')
        print('starting the emotion node and replaying (Ctrl-C stops the demo) ...', flush=True)
        printer = Printer(who, every_s)
        if not watch_then_stop(printer, node, replay, duration_s):
            return (Path(tmp) / 'node.log').read_text(errors='replace')[-3000:]
    printer.summary()
    return None


def run_video(video: Path, duration_s: float, every_s: float, parameters: Dict[str, Any],
              camera_args: List[str]) -> Optional[str]:
    """Start the node and the camera node on a video (looped), print the stream, stop both.

    `camera_args`: more options of `emotion-node camera`. None when it ran, else the logs.
    """
    from emotion_node.ros.node_main import package_params_file, spawn, spawn_node
    print(f'people in {video.name}, found by the camera node (MediaPipe Pose)', flush=True)
    with tempfile.TemporaryDirectory(prefix='emotion_demo_') as tmp:
        node = spawn_node({'input.up_axis': '-y', **parameters}, Path(tmp) / 'node.log',
                          params_file=package_params_file())
        camera = spawn([sys.executable, '-m', 'emotion_node', 'camera', '--video', str(video),
                        '--loop', '--wait-for-subscribers', '1', *camera_args],
                       Path(tmp) / 'camera.log')  # 1: the emotion node
        print('starting the emotion node and the camera node (Ctrl-C stops the demo) ...',
              flush=True)
        printer = Printer({}, every_s)
        if not watch_then_stop(printer, node, camera, duration_s):
            return '\n'.join(f'--- {name}:\n' + (Path(tmp) / name).read_text(
                errors='replace')[-2000:] for name in ('node.log', 'camera.log'))
    printer.summary()
    return None
