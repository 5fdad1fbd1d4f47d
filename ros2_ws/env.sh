# Source this file to enter emotion_node's environment from any directory:
#   source ros2_ws/env.sh
# It activates the virtual environment made by bootstrap.sh, sources the colcon install, and keeps
# DDS discovery on this machine (change ROS_AUTOMATIC_DISCOVERY_RANGE to SUBNET to talk to a robot).
_emotion_ws="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
_emotion_venv="${EMOTION_NODE_VENV:-$_emotion_ws/.venv}"
if [ ! -f "$_emotion_ws/install/setup.bash" ]; then
  echo "emotion_node is not built yet: run $_emotion_ws/bootstrap.sh" >&2
  return 1 2>/dev/null || exit 1
fi
if [ -f "$_emotion_venv/bin/activate" ]; then
  # shellcheck disable=SC1091
  . "$_emotion_venv/bin/activate"
  if [ -z "${ROS_DISTRO:-}" ]; then
    # ROS 2 from wheels: the venv is the ROS prefix.
    export AMENT_PREFIX_PATH="$_emotion_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
    export ROS_DISTRO=kilted
    export EMOTION_NODE_ROS_FROM_WHEELS=1  # tells bootstrap.sh this ROS is the venv's own
  fi
fi
# shellcheck disable=SC1091
. "$_emotion_ws/install/setup.bash"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
# Import emotion_node from the install (which holds the generated messages), never from the
# current directory, even when run inside the source tree.
export PYTHONSAFEPATH=1
unset _emotion_ws _emotion_venv
