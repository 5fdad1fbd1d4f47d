"""The one front door: every command is an `emotion-node` subcommand with its own --help."""
import pytest

from emotion_node import cli

COMMANDS = ('demo', 'run', 'camera', 'bag', 'replay', 'train', 'train-explainer', 'evaluate',
            'evaluate-llm', 'evaluate-camera', 'export', 'explain', 'bench')


def test_every_command_is_listed():
    assert tuple(cli.COMMANDS) == COMMANDS


@pytest.mark.parametrize('argv', [['train-explainer'], ['evaluate-llm'],
                                  ['bench', 'tokenizer'], ['bench', 'node'], ['bench', 'llm'],
                                  ['bench', 'grammar'], ['bench', 'camera'],
                                  ['evaluate-camera'], ['camera']])
def test_help_of_the_research_commands(argv, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([*argv, '--help'])
    assert done.value.code == 0
    assert f'usage: emotion-node {" ".join(argv)}' in capsys.readouterr().out


def test_train_explainer_needs_an_output(capsys):
    assert cli.main(['train-explainer']) == 2
    assert '--out is required' in capsys.readouterr().err
