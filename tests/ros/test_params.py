"""Node parameters: the YAML file and the dataclass agree; the launch file's arguments match."""
import ast
import py_compile
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from emotion_node.ros import params

ROOT = Path(__file__).resolve().parents[2]
YAML = ROOT / 'config' / 'emotion_node.yaml'
LAUNCH = ROOT / 'launch' / 'emotion.launch.py'
LAUNCH_ARGS = {'params_file', 'input_type', 'input_topic', 'model', 'backend', 'llm', 'hri',
               'up_axis', 'fixed_frame', 'use_sim_time', 'namespace', 'log_level', 'autostart'}


def flatten(tree: dict, prefix: str = '') -> dict:
    """{'input': {'type': x}} -> {'input.type': x}."""
    out = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        out.update(flatten(value, name + '.') if isinstance(value, dict) else {name: value})
    return out


def yaml_params() -> dict:
    """The node's parameters as listed in config/emotion_node.yaml."""
    data = yaml.safe_load(YAML.read_text())
    assert list(data) == ['/**'], 'the file applies to the node whatever its name or namespace'
    return flatten(data['/**']['ros__parameters'])


def test_yaml_keys_match_dataclass():
    assert set(yaml_params()) == set(params.describe())


def test_yaml_values_have_the_declared_types_and_pass_validation():
    values = yaml_params()
    for name, info in params.describe().items():
        assert type(values[name]) is info['type'], name
    built = params.NodeParams().with_values(values)  # validates every choice and range
    assert built.ros_dict() == values


def test_every_parameter_is_documented_and_its_default_valid():
    for name, info in params.describe().items():
        assert len(info['description']) > 15, name
        params.check_value(params.field_name(name), info['default'])
        if info['type'] in (int, float) and info['type'] is not bool:
            assert info['low'] is not None, f'{name} has no range'


def test_names_map_both_ways():
    for f in fields(params.NodeParams):
        assert params.field_name(params.ros_name(f.name)) == f.name
    assert params.ros_name('input_topic') == 'input.topic'
    assert params.ros_name('autostart') == 'autostart'
    with pytest.raises(ValueError, match='unknown parameter'):
        params.field_name('input.nonsense')


@pytest.mark.parametrize('name, value, message', [
    ('input.type', 'kinect', r'input.type = .kinect. is not one of'),
    ('inference.rate_hz', 0.0, r'inference.rate_hz = 0.0 is outside'),
    ('people.max_persons', 0, r'people.max_persons = 0 is outside'),
])
def test_bad_values_are_refused_naming_the_parameter(name, value, message):
    with pytest.raises(ValueError, match=message):
        params.NodeParams().with_values({name: value})


def test_assignments_are_typed_by_the_parameter():
    assert params.parse_assignment('inference.on_input:=true') == ('inference.on_input', True)
    assert params.parse_assignment('llm.nice:=19') == ('llm.nice', 19)
    assert params.parse_assignment('inference.rate_hz:=7.5') == ('inference.rate_hz', 7.5)
    assert params.parse_assignment('input.topic:=/a') == ('input.topic', '/a')
    for text, message in (('llm.nice=3', 'NAME:=VALUE'), ('llm.nice:=x', 'of type int'),
                          ('llm.nice:=25', 'outside'), ('no.such:=1', 'unknown parameter')):
        with pytest.raises(ValueError, match=message):
            params.parse_assignment(text)


def test_read_all_checks_types():
    defaults = params.NodeParams().ros_dict()
    assert params.read_all(defaults.__getitem__) == params.NodeParams()
    with pytest.raises(ValueError, match='window.min_frames must be int'):
        params.read_all(lambda n: 'ten' if n == 'window.min_frames' else defaults[n])


def test_runtime_safety_marks():
    assert params.is_runtime_safe('smoothing.enabled')
    assert params.is_runtime_safe('inference.rate_hz')
    for unsafe in ('input.topic', 'input.type', 'model.path', 'people.max_persons'):
        assert not params.is_runtime_safe(unsafe)


def test_default_input_matches_what_the_bag_command_writes():
    from emotion_node.ros.bag_io import INPUT_KINDS
    p = params.NodeParams()
    assert INPUT_KINDS[p.input_type][1] == p.resolved_input_topic()
    markers = p.with_values({'input.type': 'markers'})
    assert markers.resolved_input_topic() == INPUT_KINDS['markers'][1]
    assert markers.with_values({'input.topic': '/tracker/bodies'}).resolved_input_topic() == \
        '/tracker/bodies'


def test_launch_file_compiles(tmp_path):
    py_compile.compile(str(LAUNCH), cfile=str(tmp_path / 'launch.pyc'), doraise=True)


def _launch_tuple(tree: ast.Module, name: str) -> list:
    """Literal first elements of the tuples in a module-level tuple constant."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', '') == name:
            return [item.elts for item in node.value.elts]
    raise AssertionError(f'{name} not found in {LAUNCH}')


def test_launch_arguments_and_overrides():
    tree = ast.parse(LAUNCH.read_text())
    names = [elts[0].value for elts in _launch_tuple(tree, 'ARGUMENTS')]
    assert set(names) == LAUNCH_ARGS and len(names) == len(LAUNCH_ARGS)
    for elts in _launch_tuple(tree, 'OVERRIDES'):
        assert elts[0].value in LAUNCH_ARGS
        params.field_name(elts[1].value)  # a real node parameter
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    assert {'LifecycleNode', 'OnStateTransition', 'ChangeState', 'EmitEvent',
            'RegisterEventHandler'} <= imported
    calls = {getattr(n.func, 'id', '') for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert not calls & {'eval', 'exec'}, 'no eval in launch files'


def test_off_given_on_a_command_line_arrives_as_false_and_means_off():
    # `-p people.baseline:=off` is YAML: the node receives the boolean false.
    assert params.normalize('people.baseline', False) == 'off'
    assert params.normalize('people.baseline', 'auto') == 'auto'
    assert params.normalize('output.markers', False) is False  # a real boolean stays one
    values = {name: info['default'] for name, info in params.describe().items()}
    values['people.baseline'] = False
    assert params.read_all(values.__getitem__).people_baseline == 'off'
    info = params.describe()['people.baseline']
    assert params.descriptor('people.baseline', info).dynamic_typing
