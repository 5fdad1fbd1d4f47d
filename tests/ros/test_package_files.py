"""The node's parameters file and message definitions are found without a sourced ROS."""


def test_params_file_and_messages_are_found_without_a_ros_environment(monkeypatch):
    from emotion_node.ros.bag_io import message_dir
    from emotion_node.ros.node_main import package_params_file

    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    assert package_params_file().name == "emotion_node.yaml"
    assert (message_dir() / "SkeletonArray.msg").is_file()
