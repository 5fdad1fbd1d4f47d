"""Camera pipeline speed: frames per second for one person and for several, on pinned cores.

Frames come from the real test video (tests/data/video/README.md). It shows one person at a
time, so rows with several people are built from it: k walkers from k different moments of the
video, each in a vertical strip around where they stand, put side by side (real people, real
poses; the strips are narrower than the frame, so the image stays 768 x 432). The process is
pinned to `cores` CPUs before the pose graph starts, so every thread it spawns runs there.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

# Starts (s) of four walkers' stretches fully in view (tests/data/video annotations), and the
# column they stand around in the 768-pixel-wide frame.
WALKER_STARTS_S = (9.0, 26.0, 54.0, 78.0)
WALKER_COLUMN_PX = 460


def walker_frames(video: Path, start_s: float, count: int) -> List[np.ndarray]:
    """`count` consecutive RGB frames from start_s."""
    from emotion_node.camera.video import VideoFrames
    frames = VideoFrames(video, start_s=start_s)
    try:
        out = [rgb for _, rgb in (next(frames) for _ in range(count))]
    finally:
        frames.close()
    return out


def side_by_side(strips: Sequence[np.ndarray]) -> np.ndarray:
    """One image of k frames' middle strips, each 1/k of the width."""
    width = strips[0].shape[1] // len(strips)
    left = int(np.clip(WALKER_COLUMN_PX - width // 2, 0, strips[0].shape[1] - width))
    return np.ascontiguousarray(np.hstack([s[:, left:left + width] for s in strips]))


def measure(video: Path, people: int, frames: int, cores: int) -> Dict[str, Any]:
    """One row: `frames` images with `people` walkers each through a fresh pipeline."""
    from emotion_node.camera.pipeline import CameraConfig, CameraPipeline
    from emotion_node.camera.pose_model import PoseConfig
    if not 1 <= people <= len(WALKER_STARTS_S):
        raise ValueError(f'people must be 1..{len(WALKER_STARTS_S)}, got {people}')
    sources = [walker_frames(video, WALKER_STARTS_S[k], frames) for k in range(people)]
    images = [sources[0][i] if people == 1 else side_by_side([s[i] for s in sources])
              for i in range(frames)]
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(sorted(allowed)[:cores]))
    try:
        pipeline = CameraPipeline(CameraConfig(pose=PoseConfig(num_poses=max(4, people))))
        found, cpu0, wall0 = [], time.process_time(), time.perf_counter()
        for i, rgb in enumerate(images):
            found.append(len(pipeline.process(rgb, i / 10.0)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        pipeline.close()
    finally:
        os.sched_setaffinity(0, allowed)
    return {'people': people, 'frames': frames, 'cores': cores,
            'image': f'{images[0].shape[1]}x{images[0].shape[0]}',
            'fps_wall': frames / wall, 'fps_cpu': frames / cpu,
            'ms_per_frame': 1e3 * wall / frames, 'ms_per_person': 1e3 * wall / frames / people,
            'people_found_mean': float(np.mean(found))}


def print_rows(rows: Sequence[Dict[str, Any]]) -> None:
    """The table BENCHMARKS.md quotes."""
    print(f'{"people":>6} {"cores":>5} {"image":>9} {"frames/s":>9} {"CPU fr/s":>9} '
          f'{"ms/frame":>9} {"ms/person":>10} {"found":>6}')
    for r in rows:
        print(f'{r["people"]:>6} {r["cores"]:>5} {r["image"]:>9} {r["fps_wall"]:>9.1f} '
              f'{r["fps_cpu"]:>9.1f} {r["ms_per_frame"]:>9.1f} {r["ms_per_person"]:>10.1f} '
              f'{r["people_found_mean"]:>6.2f}')


# MediaPipe landmark pairs whose length a rigid body keeps: upper arms, forearms, thighs, shins.
RIGID_BONES = ((11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27), (24, 26), (26, 28))
HIPS = (23, 24)


def _detrend(track: np.ndarray, fps: float) -> np.ndarray:
    """What is left of a (N, ...) track after its centred one-second moving average."""
    half = max(1, int(round(fps / 2)))
    padded = np.concatenate([track[:1].repeat(half, 0), track, track[-1:].repeat(half, 0)])
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    smooth = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode='valid'), 0, padded)
    return track - smooth


def video_noise(video: Path, intervals: Sequence[Any]) -> Dict[str, Any]:
    """How the camera pipeline followed the annotated people of a video (`tracking`: each
    person's share of frames under their main id, the ids seen, false people in the empty
    room), and the frame-to-frame noise of its skeletons over each person's stretch.

    bone_jitter_m: median over people and RIGID_BONES of the standard deviation of the bone's
    length after its one-second moving average is removed (a rigid bone's length should not
    move: this is noise along the bone, a lower bound of a joint's noise); joint_jitter_m: that
    over sqrt(2), two ends each adding their own. root_jitter_m: the same for the placed hip
    centre per camera axis (x right, y down, z depth), median over people.
    """
    from emotion_node.camera.annotations import score
    ids_per_frame, tracks, cpu, fps = _follow(video, [i for i in intervals if i.who != 'empty'])
    scores, false_share = score(ids_per_frame, intervals)
    tracking = {'people': {who: {'frames': s.frames, 'followed': s.followed, 'share': s.share,
                                 'ids': list(s.ids)} for who, s in scores.items()},
                'false_people_share_of_empty_frames': false_share}
    bone_sd, root_sd = [], []
    for track in tracks.values():
        pos = np.stack(track)  # (N, 33, 3), camera frame
        lengths = np.stack([np.linalg.norm(pos[:, a] - pos[:, b], axis=1)
                            for a, b in RIGID_BONES], axis=1)  # (N, 8)
        bone_sd.append(_detrend(lengths, fps).std(axis=0))
        root_sd.append(_detrend(pos[:, list(HIPS)].mean(axis=1), fps).std(axis=0))
    bone = float(np.median(np.concatenate(bone_sd)))
    root = np.median(np.stack(root_sd), axis=0)
    return {'video_fps': fps, 'frames_per_cpu_second_one_core': len(ids_per_frame) / cpu,
            'tracking': tracking, 'people': len(tracks),
            'frames': int(sum(len(v) for v in tracks.values())),
            'bone_jitter_m': bone, 'joint_jitter_m': bone / np.sqrt(2.0),
            'root_jitter_m': [float(v) for v in root]}


def _follow(video: Path, people: Sequence[Any]
            ) -> Tuple[List[Tuple[float, List[str]]], Dict[str, List[np.ndarray]], float, float]:
    """The whole video through a fresh pipeline on one core: (seconds, ids) per frame, each
    annotated person's positions while they alone are found, CPU seconds, the video's fps."""
    from emotion_node.camera.pipeline import CameraPipeline
    from emotion_node.camera.video import VideoFrames
    ids_per_frame: List[Tuple[float, List[str]]] = []
    tracks: Dict[str, List[np.ndarray]] = {i.who: [] for i in people}
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})  # one core, as the speed target is stated
    frames, pipeline, cpu = VideoFrames(video), CameraPipeline(), 0.0
    try:
        for t, rgb in frames:
            start = time.process_time()
            found = pipeline.process(rgb, t)
            cpu += time.process_time() - start
            ids_per_frame.append((t, [p.body_id for p in found]))
            inside = [i for i in people if i.holds(t)]
            if inside and len(found) == 1:  # one person in view at a time in this video
                tracks[inside[0].who].append(found[0].positions)
    finally:
        pipeline.close()
        frames.close()
        os.sched_setaffinity(0, allowed)
    return ids_per_frame, tracks, cpu, frames.fps
