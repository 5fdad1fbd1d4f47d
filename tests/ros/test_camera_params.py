"""Camera node parameters: the YAML file and the dataclass agree, bad values are named, and the
launch file's overrides are real parameters."""
import ast
import py_compile
from pathlib import Path

import pytest
import yaml

from emotion_node.ros import camera_params

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / 'launch' / 'camera.launch.py'


def _flatten(tree: dict, prefix: str = '') -> dict:
    out = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        out.update(_flatten(value, name + '.') if isinstance(value, dict) else {name: value})
    return out


def test_yaml_and_dataclass_have_the_same_keys_and_defaults():
    loaded = yaml.safe_load((ROOT / 'config' / 'camera_node.yaml').read_text())
    values = _flatten(loaded['/**']['ros__parameters'])
    assert values == {name: info['default'] for name, info in camera_params.describe().items()}


def test_defaults_read_back_and_build_the_pipeline_config():
    defaults = {name: info['default'] for name, info in camera_params.describe().items()}
    params = camera_params.read_all(defaults.__getitem__)
    assert params == camera_params.CameraParams()
    assert params.camera_config().pose.num_poses == 4


@pytest.mark.parametrize('name,value,words', [
    ('pose.num_poses', 0, 'pose.num_poses must be in'),
    ('camera.placement', 'floor', 'camera.placement must be one of'),
    ('camera.hfov_deg', 'wide', 'camera.hfov_deg must be float'),
    ('video.end_s', 2.0, 'video.end_s (2.0) must be 0 or after'),
])
def test_bad_values_name_the_parameter(name, value, words):
    values = {n: info['default'] for n, info in camera_params.describe().items()}
    values.update({name: value, 'video.start_s': 5.0})
    with pytest.raises(ValueError, match=words.replace('(', r'\(').replace(')', r'\)')):
        camera_params.read_all(values.__getitem__)


def test_launch_file_compiles_and_overrides_real_parameters(tmp_path):
    py_compile.compile(str(LAUNCH), cfile=str(tmp_path / 'launch.pyc'), doraise=True)
    tree = ast.parse(LAUNCH.read_text())
    tables = {node.targets[0].id: [item.elts for item in node.value.elts] for node in tree.body
              if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple)}
    arguments = {elts[0].value for elts in tables['ARGUMENTS']}
    known = set(camera_params.describe())
    for elts in tables['OVERRIDES']:
        assert elts[0].value in arguments and elts[1].value in known
    calls = {getattr(n.func, 'id', '') for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert not calls & {'eval', 'exec'}


@pytest.mark.parametrize('image, info, want', [
    ('/image_raw', '', '/camera_info'),
    ('/camera/color/image_raw', '', '/camera/color/camera_info'),
    ('image', '', 'camera_info'),
    ('cam/image', '', 'cam/camera_info'),
    ('/image_raw', '/elsewhere/info', '/elsewhere/info'),
])
def test_camera_info_sits_beside_the_images_unless_named(image, info, want):
    from emotion_node.ros.camera_params import CameraParams
    assert CameraParams(image_topic=image, image_camera_info_topic=info).camera_info_topic() == \
        want
