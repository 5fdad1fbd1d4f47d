"""Where the default model is found, with and without a sourced ROS environment (the ROS-side
files: tests/ros/test_package_files.py)."""
from emotion_node.model import model_files


def test_default_model_is_found_without_a_ros_environment(monkeypatch):
    # ROS wheels installed but not sourced: the ament index raises instead of answering.
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    directory = model_files.default_model_dir()
    assert (directory / model_files.CONFIG_FILE).is_file()
    assert (directory / model_files.WEIGHTS_FILE).is_file()


def test_an_unfound_model_is_a_path_to_report_not_a_crash(monkeypatch, tmp_path):
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    root = tmp_path / "a" / "b" / "c" / "d"
    monkeypatch.setattr(model_files, "SOURCE_ROOT", root)
    monkeypatch.setattr(model_files, "__file__",
                        str(root / "emotion_node" / "runtime" / "model_files.py"))
    directory = model_files.default_model_dir()
    assert directory == root / "models" / "default"
    assert not directory.exists()

