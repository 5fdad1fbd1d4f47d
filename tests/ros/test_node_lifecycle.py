"""The lifecycle node in-process: transitions, model errors, declared and run-time parameters."""
from pathlib import Path

import pytest
import rclpy
import torch
from lifecycle_msgs.msg import State
from rclpy.context import Context
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from emotion_node.model.tokenizer import SkeletonTokenizer, TokenizerConfig, save_tokenizer
from emotion_node.ros import params
from emotion_node.ros.node import EmotionNode

DOMAIN_ID = 60
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


@pytest.fixture(scope='module')
def random_model(tmp_path_factory) -> Path:
    """A small randomly initialised tokenizer (weights + config)."""
    torch.manual_seed(0)
    config = TokenizerConfig()
    return save_tokenizer(SkeletonTokenizer(config).eval(), config,
                          tmp_path_factory.mktemp('model'))


@pytest.fixture
def make_node():
    """Create EmotionNodes in a private rclpy context; destroyed at teardown."""
    context = Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    nodes = []

    def _make(**overrides) -> EmotionNode:
        node = EmotionNode(context=context, parameter_overrides=[
            Parameter(k, value=v) for k, v in overrides.items()])
        nodes.append(node)
        return node
    try:
        yield _make
    finally:
        for node in nodes:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def state_id(node: EmotionNode) -> int:
    return node._state_machine.current_state[0]


def test_parameters_are_declared_with_descriptors(make_node):
    node = make_node()
    names = list(params.describe())
    for name, desc in zip(names, node.describe_parameters(names)):
        assert desc.description == params.describe()[name]['description']
    rate = node.describe_parameters(['inference.rate_hz'])[0]
    assert rate.floating_point_range[0].from_value == 0.1
    assert 'one of: skeleton, markers' in node.describe_parameters(['input.type'])[0] \
        .additional_constraints
    assert node.describe_parameters(['people.max_persons'])[0].integer_range[0].to_value == 1000


def test_missing_model_fails_configure_naming_the_file(make_node, tmp_path, capfd):
    missing = tmp_path / 'no_such_model'
    node = make_node(**{'model.path': str(missing)})
    assert node.trigger_configure() == FAILURE
    assert state_id(node) == State.PRIMARY_STATE_UNCONFIGURED
    err = capfd.readouterr().err
    assert 'configure failed' in err and str(missing) in err
    assert 'Traceback' not in err


def test_corrupt_weights_fail_configure_naming_the_file(make_node, random_model, tmp_path, capfd):
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'config.json').write_text((random_model / 'config.json').read_text())
    (bad / 'model.safetensors').write_bytes(b'\x00garbage' * 10)
    node = make_node(**{'model.path': str(bad), 'model.backend': 'torch'})
    assert node.trigger_configure() == FAILURE
    err = capfd.readouterr().err
    assert str(bad / 'model.safetensors') in err and 'Traceback' not in err
    # Fixing the file and configuring again works: a failed configure leaves no half state.
    (bad / 'model.safetensors').write_bytes((random_model / 'model.safetensors').read_bytes())
    assert node.trigger_configure() == SUCCESS


def test_transitions_create_and_release_what_they_own(make_node, random_model):
    node = make_node(**{'model.path': str(random_model), 'model.backend': 'torch',
                        'input.topic': '/lifecycle_test/skeletons'})
    assert node.count_publishers('/emotion_state') == 0
    assert node.trigger_configure() == SUCCESS
    assert node.count_publishers('/emotion_state') == 1  # lifecycle publishers: configure
    assert node.count_subscribers('/lifecycle_test/skeletons') == 0  # inactive: no input
    assert node.trigger_activate() == SUCCESS
    assert node.count_subscribers('/lifecycle_test/skeletons') == 1
    assert node._state_pub.is_activated
    assert node.trigger_deactivate() == SUCCESS
    assert node.count_subscribers('/lifecycle_test/skeletons') == 0
    assert not node._state_pub.is_activated and node._timer is None
    assert node.trigger_cleanup() == SUCCESS
    assert node.count_publishers('/emotion_state') == 0 and node._model is None
    assert state_id(node) == State.PRIMARY_STATE_UNCONFIGURED


def test_runtime_parameters(make_node, random_model):
    node = make_node(**{'model.path': str(random_model), 'model.backend': 'torch'})
    # Unconfigured: every parameter may change (they are read at configure).
    assert node.set_parameters([Parameter('input.topic', value='/elsewhere')])[0].successful
    assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
    result = node.set_parameters([Parameter('input.topic', value='/other')])[0]
    assert not result.successful and 'read at configure' in result.reason
    assert node.get_parameter('input.topic').value == '/elsewhere'
    ok = node.set_parameters([Parameter('smoothing.enabled', value=False),
                              Parameter('inference.rate_hz', value=5.0)])
    assert all(r.successful for r in ok)
    assert not node._params.smoothing_enabled
    assert not node._pipeline.settings.smoothing.enabled
    assert node._timer.timer_period_ns == 200_000_000
    too_long = node.set_parameters([Parameter('window.min_frames', value=500)])[0]
    assert not too_long.successful and 'window.min_frames = 500' in too_long.reason
    out_of_range = node.set_parameters([Parameter('inference.rate_hz', value=1000.0)])[0]
    assert not out_of_range.successful
    bad_choice = node.set_parameters([Parameter('input.up_axis', value='sideways')])[0]
    assert not bad_choice.successful and 'input.up_axis' in bad_choice.reason
