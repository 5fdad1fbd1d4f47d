"""`emotion-node camera`: options become the node's parameters; a missing video is an error."""
import argparse

from emotion_node.commands import camera


def _parse(argv):
    parser = argparse.ArgumentParser()
    camera.add_arguments(parser)
    return parser.parse_args(argv)


def test_video_options_become_parameters_and_ros_args_pass_through(tmp_path):
    video = tmp_path / 'walk.mp4'
    video.write_bytes(b'')
    args = _parse(['--video', str(video), '--start', '3', '--end', '9.5', '--loop', '--people',
                   '2', '--hfov', '70', '--root-locked', '--ros-args', '-r', '__ns:=/robot'])
    out = camera.node_arguments(args)
    assert out[:2] == ['emotion-node-camera', '--ros-args']
    params = [out[i + 1] for i, a in enumerate(out) if a == '-p']
    assert params == [f'video.path:={video.resolve()}', 'video.start_s:=3.0',
                      'video.end_s:=9.5', 'video.loop:=true', 'video.wait_subscribers:=0',
                      'pose.num_poses:=2', 'camera.hfov_deg:=70.0',
                      'camera.placement:=root_locked']
    assert out[-2:] == ['-r', '__ns:=/robot']


def test_without_options_the_node_keeps_its_defaults():
    assert camera.node_arguments(_parse([])) == ['emotion-node-camera', '--ros-args']


def test_a_missing_video_is_an_error_naming_it(tmp_path, capsys):
    assert camera.main(_parse(['--video', str(tmp_path / 'none.mp4')])) == 2
    assert 'none.mp4' in capsys.readouterr().err
