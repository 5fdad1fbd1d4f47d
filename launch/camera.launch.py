"""Start the camera node (images or a video in, 3D skeletons on /skeletons out) and, with
`emotion:=true`, the emotion node reading them in the camera optical frame.

    ros2 launch emotion_node camera.launch.py image_topic:=/camera/color/image_raw
    ros2 launch emotion_node camera.launch.py video:=/path/to/walk.mp4 emotion:=true

Empty arguments keep the value of the parameters file; the others override it.
"""
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

# (argument, default, description)
ARGUMENTS = (
    ('params_file', PathJoinSubstitution([FindPackageShare('emotion_node'), 'config',
                                          'camera_node.yaml']), 'camera node parameters file'),
    ('image_topic', '', 'sensor_msgs/Image topic (empty: from params_file)'),
    ('camera_info_topic', '', 'its sensor_msgs/CameraInfo topic (empty: from params_file, else '
                              'camera_info beside the image topic)'),
    ('video', '', 'a video file to read instead of the image topic'),
    ('loop', '', 'true or false: play the video again at its end (empty: from params_file)'),
    ('people', '', 'most people found in one image (empty: from params_file)'),
    ('hfov_deg', '', 'horizontal field of view in degrees (empty: from params_file)'),
    ('namespace', '', 'node namespace'),
    ('log_level', 'info', 'debug, info, warn, error or fatal'),
    ('emotion', 'false', 'true: also start the emotion node on the camera\'s skeletons'),
)
# Launch arguments that override one camera node parameter when given: (argument, parameter,
# type).
OVERRIDES = (
    ('image_topic', 'image.topic', str),
    ('camera_info_topic', 'image.camera_info_topic', str),
    ('video', 'video.path', str),
    ('loop', 'video.loop', bool),
    ('people', 'pose.num_poses', int),
    ('hfov_deg', 'camera.hfov_deg', float),
)


def _typed(text: str, kind: type) -> object:
    """Launch argument text as the parameter's type (so '' never becomes null)."""
    if kind is bool:
        if text.lower() not in ('true', 'false', '1', '0'):
            raise ValueError(f'expected true or false, got {text!r}')
        return text.lower() in ('true', '1')
    return kind(text)


def _camera_node(context: LaunchContext) -> list:
    """The camera node with the given overrides over the parameters file."""
    overrides = {}
    for argument, parameter, kind in OVERRIDES:
        text = LaunchConfiguration(argument).perform(context)
        if text:
            overrides[parameter] = _typed(text, kind)
    return [Node(package='emotion_node', executable='camera_node', name='camera_node',
                 namespace=LaunchConfiguration('namespace'), output='screen',
                 parameters=[LaunchConfiguration('params_file'), overrides],
                 ros_arguments=['--log-level', LaunchConfiguration('log_level')])]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments, start the camera node and, if asked, the emotion node."""
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, default, text in ARGUMENTS]
    emotion = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare('emotion_node'), 'launch', 'emotion.launch.py'])),
        launch_arguments={'up_axis': '-y', 'namespace': LaunchConfiguration('namespace'),
                          'log_level': LaunchConfiguration('log_level')}.items(),
        condition=IfCondition(LaunchConfiguration('emotion')))
    return LaunchDescription(declared + [OpaqueFunction(function=_camera_node), emotion])
