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
                        'cpu_percent'}
    assert row['persons'] == 3 and row['rate_hz'] == 30.0 and row['llm'] is False
    assert row['published'] == 120 and row['measured'] == 90
    assert row['unanswered'] == 0  # every measured message was answered by a state
    assert row['dropped'] <= 3  # nothing dropped (a little slack for a loaded machine)
    assert 0 < row['p50_ms'] <= row['p99_ms'] < 1000
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
    assert four['convert_ms'] > one['convert_ms']  # four bodies to convert, not one
    assert 'deserialize ms' in capsys.readouterr().out
