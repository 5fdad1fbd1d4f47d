"""One window, three paths, the same scores: training's preprocessing with the PyTorch model, the
exported ONNX model, and the node's pipeline fed the clip frame by frame.

The committed model and a real clip. The training/evaluation path cuts the window from the whole
clip (`training.data.eval_windows`); the node resamples its own person buffer at every tick. A
tick whose newest frame is that window's last one sees the same model-rate samples, so the node
must publish the scores the PyTorch model gives in training (float32 ONNX against eager PyTorch:
the export's 1e-4 bound).
"""
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from emotion_node.model.model_files import CONFIG_FILE, WEIGHTS_FILE, default_model_dir
from emotion_node.model.tokenizer import load_tokenizer
from emotion_node.ros.params import NodeParams
from emotion_node.ros.pipeline import EmotionPipeline, PipelineSettings
from emotion_node.runtime.export import export_onnx
from emotion_node.runtime.loading import load_model
from emotion_node.skeleton.dataset import default_data_root, index_clips
from emotion_node.training.data import eval_windows, load_records, raw_eval_windows

PROB_TOL = 1e-4
CLIP = ('walk', 'happy')


@pytest.fixture(scope='module')
def record():
    try:
        clips = index_clips(default_data_root())
    except FileNotFoundError as err:
        pytest.skip(f'motion dataset not available: {err}')
    (info,) = [c for c in clips if (c.content, c.style) == CLIP and c.take == 1]
    return load_records([info])[0]


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """The committed tokenizer in a folder of its own, freshly exported to ONNX there."""
    folder = tmp_path_factory.mktemp('model')
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        shutil.copy(default_model_dir() / name, folder / name)
    export_onnx(folder)
    return folder


def test_training_onnx_and_the_node_give_the_same_scores(record, exported):
    model, config = load_tokenizer(exported)
    cfg = config.preprocess
    # Training / evaluation: every window of the clip, preprocessed, through eager PyTorch.
    x, mask = eval_windows(record, cfg)
    _, _, ends = raw_eval_windows(record, cfg)
    with torch.no_grad():
        logits = model(torch.from_numpy(x), torch.from_numpy(mask).float())[0]
    trained = torch.softmax(logits, -1).numpy()  # (W, C)
    # The export, through the node's loader and its ONNX Runtime backend.
    loaded = load_model(exported, 'onnxruntime')
    assert loaded.backend.name == 'onnxruntime' and loaded.preprocess == cfg
    onnx = loaded.backend.infer(x, mask).probs
    assert np.abs(onnx - trained).max() < PROB_TOL
    # The node: the clip's frames one by one at their stamps, smoothing off, inferring at
    # every frame (so that every training window end is a tick that infers).
    # The plain argmax (no neutral fallback): the invariant is the model's label.
    p = NodeParams(smoothing_enabled=False, inference_on_input=True, smoothing_neutral_below=0.0)
    pipeline = EmotionPipeline(loaded.backend, loaded.preprocess, 1, p.window_length_s,
                               PipelineSettings.from_params(p))
    stamps = np.arange(len(record.positions)) / record.fps
    checked = 0
    try:
        for i, stamp in enumerate(stamps):
            frame = SimpleNamespace(body_id='1', stamp=float(stamp), positions=record.positions[i],
                                    mask=record.mask[i], frame_id='world')
            assert pipeline.add([frame], float(stamp)) == []
            (result,) = pipeline.step(float(stamp))
            w = np.flatnonzero(np.abs(ends - stamp) < 1e-9)  # a training window ends here
            if w.size and result.window_frames == cfg.window_frames:
                node = result.scores
                assert np.abs(node - trained[w[0]]).max() < PROB_TOL, (stamp, node, trained[w[0]])
                assert np.abs(node - onnx[w[0]]).max() < 1e-6  # the same input as training's
                assert result.style == config.labels[int(np.argmax(trained[w[0]]))]
                checked += 1
    finally:
        loaded.backend.close()
    assert checked >= len(ends) - 1, (checked, len(ends))  # every full window, in order
