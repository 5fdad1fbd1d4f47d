"""Label flicker: how often the published label changes, with smoothing on and off.

Recorded clips, eight people side by side per bag, are written to a rosbag2 file, read back
and fed through the node's pipeline (`EmotionPipeline`, the node's own code) by their stamps;
every tick that labels a person counts. Rows: label changes per minute and, where the clips
have an emotion style, the share of ticks labelled with it.
"""
from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from emotion_node.model.labels import EMOTION_STYLES
from emotion_node.model.model_files import read_config
from emotion_node.ros.bag_io import load_tracks, read_bag, write_bag
from emotion_node.ros.convert import skeleton_array_to_frames
from emotion_node.ros.params import NodeParams
from emotion_node.ros.people import OK
from emotion_node.ros.pipeline import EmotionPipeline, PersonResult, PipelineSettings, load_model
from emotion_node.ros.smoothing import label_changes
from emotion_node.runtime.loading import LoadedModel
from emotion_node.skeleton.dataset import DATASET_1, index_clips, shared_contents

FLICKER_STYLES = EMOTION_STYLES  # every emotion the default model names
FLICKER_GROUP = 8  # people side by side in one replayed bag


def flicker_sets(model_dir: Path) -> Dict[str, List[tuple]]:
    """Named lists of (BVH path, true style or None) to replay for the flicker measurement.

    The committed model was fine-tuned on the emotion styles of some actions; the same styles on
    other actions, and the non-emotion styles, show how labels behave on motion it has not fit.
    """
    # Dataset 1: every emotion on the same actions, so the rows compare like with like.
    clips = [c for c in index_clips() if c.dataset == DATASET_1.key]
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


def bag_frames(bag: Path) -> List[list]:
    """The BodyFrames of every non-empty message of a bag, in its order."""
    frames = (skeleton_array_to_frames(msg)[0] for _, _, msg in read_bag(bag))
    return [f for f in frames if f]


def replay_ok(pipeline: EmotionPipeline, messages: List[list]
              ) -> Iterator[Tuple[float, PersonResult]]:
    """Feed messages' frames through a pipeline by their stamps, one step each; (t, result)
    of every ok result (read it before the next one: the pipeline updates results in place)."""
    for frames in messages:
        now = frames[0].stamp
        pipeline.add(frames, now)
        for result in pipeline.step(now):
            if result.status == OK:
                yield now, result


def _replay_labels(pipeline: EmotionPipeline, messages: List[list]) -> Dict[str, List[tuple]]:
    """(t, style) of every ok tick per body (`replay_ok`)."""
    out: Dict[str, List[tuple]] = {}
    for now, result in replay_ok(pipeline, messages):
        out.setdefault(result.body_id, []).append((now, result.style))
    return out


def _replay_set(model: LoadedModel, p: NodeParams, settings: Sequence[PipelineSettings],
                clips: List[tuple]) -> List[Dict[str, Any]]:
    """Replay clips (eight side by side per bag) under each of `settings`; per setting, count
    changes, minutes and hits. Each bag is written and read once, whatever the settings."""
    totals: List[Dict[str, Any]] = [
        {'label_changes': 0, 'minutes': 0.0, 'ticks': 0, 'labelled': 0, 'right': 0}
        for _ in settings]
    for k in range(0, len(clips), FLICKER_GROUP):
        group = clips[k:k + FLICKER_GROUP]
        tracks = load_tracks([path for path, _ in group])
        truth = {t.body_id: style for t, (_, style) in zip(tracks, group)}
        with tempfile.TemporaryDirectory(prefix='emotion_flicker_') as tmp:
            write_bag(Path(tmp) / 'bag', tracks)
            messages = bag_frames(Path(tmp) / 'bag')
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


def flicker(model: str = '', backend: str = 'auto',
            sets: Optional[Dict[str, List[tuple]]] = None,
            params: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Label changes per minute (and tick accuracy), smoothing on and off, over real clips.

    `model`: tokenizer directory (default: the package's); `backend`: as the node's
    `model.backend`; `sets`: named clip lists (default: `flicker_sets`); `params`: node
    parameters by ROS name (default: the package's; `inference.*` sets when labels are
    inferred, as in the node).
    """
    p = NodeParams(model_path=model, model_backend=backend).with_values(params or {})
    loaded = load_model(p)
    sets = sets if sets is not None else flicker_sets(loaded.directory)
    rows = []
    try:
        base = PipelineSettings.from_params(p)
        switches = (True, False)  # smoothing on, then off
        settings = [replace(base, smoothing=replace(base.smoothing, enabled=on))
                    for on in switches]
        for name, clips in sets.items():
            for smoothing, t in zip(switches, _replay_set(loaded, p, settings, clips)):
                rows.append({'clips': name, 'count': len(clips), 'smoothing': smoothing,
                             'changes_per_min': round(t['label_changes'] / t['minutes'], 2),
                             'label_changes': t['label_changes'],
                             'minutes': round(t['minutes'], 2), 'ticks': t['ticks'],
                             'tick_accuracy': round(t['right'] / t['labelled'], 3)
                             if t['labelled'] else None})
    finally:
        loaded.backend.close()
    return rows


def print_rows(rows: Sequence[Dict[str, Any]]) -> None:
    """One readable line per row."""
    for r in rows:
        accuracy = '' if r['tick_accuracy'] is None else f', tick accuracy {r["tick_accuracy"]}'
        print(f'{r["clips"]} ({r["count"]} clips, {r["minutes"]:.1f} person-min), smoothing '
              f'{"on " if r["smoothing"] else "off"}: {r["changes_per_min"]:6.2f} label '
              f'changes/min{accuracy}')
