"""Start the emotion lifecycle node and, with autostart, configure then activate it.

    ros2 launch emotion_node emotion.launch.py
    ros2 launch emotion_node emotion.launch.py input_type:=markers namespace:=robot1 llm:=false
    ros2 launch emotion_node emotion.launch.py input_type:=zed hri:=true
    ros2 launch emotion_node emotion.launch.py input_type:=hri fixed_frame:=map hri:=true

Empty arguments keep the value of the parameters file; the others override it.
"""
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

# (argument, default, description)
ARGUMENTS = (
    ('params_file', PathJoinSubstitution([FindPackageShare('emotion_node'), 'config',
                                          'emotion_node.yaml']), 'node parameters YAML file'),
    ('input_type', '', 'input message: skeleton, markers, zed, yolo or hri (ROS4HRI bodies on '
                       'TF) (empty: from params_file)'),
    ('input_topic', '', 'input topic (empty: from params_file, else the input type default)'),
    ('up_axis', '', 'up axis of the tracker frame: z, -y for a camera optical frame (empty: '
                    'from params_file)'),
    ('fixed_frame', '', 'input_type hri: the frame joints are read in, e.g. map (empty: from '
                        'params_file, else each body\'s root frame\'s parent)'),
    ('model', '', 'tokenizer model directory (empty: from params_file, else the package model)'),
    ('backend', '', 'auto, torch, onnxruntime or tensorrt (empty: from params_file)'),
    ('llm', '', 'true or false: explain labels with the LLM (empty: from params_file)'),
    ('hri', '', 'true or false: ROS4HRI expressions per body (empty: from params_file)'),
    ('use_sim_time', 'false', 'use /clock (e.g. from `emotion-node replay BAG --clock`)'),
    ('namespace', '', 'node namespace (outputs with relative names move with it)'),
    ('log_level', 'info', 'debug, info, warn, error or fatal'),
    ('autostart', 'true', 'configure then activate the node with lifecycle events'),
)
# Launch arguments that override one node parameter when given: (argument, parameter, type).
OVERRIDES = (
    ('input_type', 'input.type', str),
    ('input_topic', 'input.topic', str),
    ('up_axis', 'input.up_axis', str),
    ('fixed_frame', 'input.fixed_frame', str),
    ('model', 'model.path', str),
    ('backend', 'model.backend', str),
    ('llm', 'llm.enabled', bool),
    ('hri', 'output.hri', bool),
)


def _as_bool(text: str) -> bool:
    """Launch-style boolean text to bool."""
    if text.lower() not in ('true', 'false', '1', '0'):
        raise ValueError(f'expected true or false, got {text!r}')
    return text.lower() in ('true', '1')


def _overrides(context: LaunchContext) -> dict:
    """Parameters set by non-empty launch arguments (typed, so '' never becomes null)."""
    out = {'autostart': False,  # lifecycle events below do the transitions
           'use_sim_time': _as_bool(LaunchConfiguration('use_sim_time').perform(context))}
    for argument, parameter, kind in OVERRIDES:
        text = LaunchConfiguration(argument).perform(context)
        if text:
            out[parameter] = _as_bool(text) if kind is bool else text
    return out


def _node_and_transitions(context: LaunchContext) -> list:
    """The lifecycle node plus the configure event and the activate-on-inactive handler."""
    node = LifecycleNode(
        package='emotion_node', executable='emotion_node', name='emotion_node',
        namespace=LaunchConfiguration('namespace'), output='screen',
        parameters=[LaunchConfiguration('params_file'), _overrides(context)],
        ros_arguments=['--log-level', LaunchConfiguration('log_level')])
    autostart = IfCondition(LaunchConfiguration('autostart'))
    configure = EmitEvent(event=ChangeState(
        lifecycle_node_matcher=matches_action(node),
        transition_id=Transition.TRANSITION_CONFIGURE), condition=autostart)
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
        entities=[EmitEvent(event=ChangeState(
            lifecycle_node_matcher=matches_action(node),
            transition_id=Transition.TRANSITION_ACTIVATE))]), condition=autostart)
    return [node, activate, configure]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and start the node."""
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, default, text in ARGUMENTS]
    return LaunchDescription(declared + [OpaqueFunction(function=_node_and_transitions)])
