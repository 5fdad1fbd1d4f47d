"""`emotion-node bench node`: the latency and stage rows are real measurements."""
import json

import pytest
import torch

from emotion_node import cli
from emotion_node.bench import node
from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer

DOMAIN_ID = 72


@pytest.fixture(scope='module')
def random_model(tmp_path_factory):
    """A small random tokenizer: the benchmark measures plumbing, not accuracy."""
    torch.manual_seed(0)
    config = TokenizerConfig()
    return save_tokenizer(SkeletonTokenizer(config).eval(), config,
                          tmp_path_factory.mktemp('model'))


def run(*argv: str) -> int:
    return cli.main(['bench', 'node', *argv])


def test_latency_row_over_dds(random_model, tmp_path, capsys):
    out = tmp_path / 'bench.json'
    assert run('--persons', '3', '--duration', '3', '--warmup', '1', '--model',
               str(random_model), '--backend', 'onnxruntime', '--domain-id', str(DOMAIN_ID),
               '--json', str(out)) == 0
    report = json.loads(out.read_text())
    (row,) = report['rows']
    assert set(row) >= {'persons', 'rate_hz', 'llm', 'p50_ms', 'p99_ms', 'dropped',
                        'cpu_percent', 'explainer_cpu_percent', 'label_p50_ms', 'label_p99_ms',
                        'person_frames_per_cpu_s', 'model_person_frames_per_cpu_s',
                        'model_ratio', 'load_1min'}
    assert row['persons'] == 3 and row['rate_hz'] == 30.0 and row['llm'] is False
    assert row['published'] == 120 and row['measured'] == 90
    assert row['unanswered'] == 0  # every measured message was answered by a state
    # Counted, not judged: how many a busy machine drops is the benchmark's figure.
    assert 0 <= row['dropped'] <= row['published'] // 10
    assert 0 < row['p50_ms'] <= row['p99_ms']
    assert row['p50_ms'] <= row['label_p50_ms'] <= row['label_p99_ms']  # labels: 15 Hz
    assert row['explainer_cpu_percent'] == 0.0  # no LLM, no child
    # Person-frames per CPU-second: 3 people x 90 messages over the node's CPU time; the model
    # alone does more.
    assert 0 < row['person_frames_per_cpu_s'] < row['model_person_frames_per_cpu_s']
    assert row['model_ratio'] == pytest.approx(
        row['person_frames_per_cpu_s'] / row['model_person_frames_per_cpu_s'], rel=0.01)
    assert 0 < row['cpu_percent'] < 200 and row['backend'] == 'onnxruntime'
    assert 0 < row['node_p50_ms'] <= row['p50_ms']  # inside the node is part of end to end
    assert 'persons' in capsys.readouterr().out


def test_stages_time_the_nodes_work_per_message(random_model, tmp_path, capsys):
    out = tmp_path / 'stages.json'
    assert run('--stages-only', '--persons', '1', '4', '--duration', '1', '--warmup', '0.5',
               '--model', str(random_model), '--backend', 'onnxruntime', '--json', str(out)) == 0
    report = json.loads(out.read_text())
    assert report['rows'] == [] and report['flicker'] == []
    one, four = report['stages']
    assert (one['persons'], four['persons'], one['messages']) == (1, 4, 30)
    for row in (one, four):
        stages = [row[f'{name}_ms'] for name in node.STAGES]
        assert all(v > 0 for v in stages)
        assert row['total_ms'] >= max(stages)
        assert row['inferences'] == 15  # 30 Hz input, labels at the default 15 Hz
        assert row['track_tick_ms'] < row['infer_tick_ms']
    assert four['convert_ms'] > one['convert_ms']  # four bodies to convert, not one
    assert 'deserialize ms' in capsys.readouterr().out
    assert run('--stages-only', '--persons', '2', '--duration', '1', '--warmup', '0.5',
               '--param', 'inference.on_input:=true', '--model', str(random_model),
               '--backend', 'onnxruntime', '--json', str(out)) == 0
    (every,) = json.loads(out.read_text())['stages']
    assert every['inferences'] == every['messages'] == 30 and every['track_tick_ms'] is None
    assert every['params'] == {'inference.on_input': True}


def test_a_bad_param_is_refused(capsys):
    assert run('--stages-only', '--param', 'inference.on_input:=maybe') == 2
    assert 'inference.on_input is of type bool' in capsys.readouterr().err
