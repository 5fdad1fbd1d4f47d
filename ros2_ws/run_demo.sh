#!/usr/bin/env bash
# The main job: install what is missing (idempotent), build, then run `emotion-node demo`: start the
# node on the embedded default model and replay real recordings of several people through it.
#   ros2_ws/run_demo.sh [demo arguments, e.g. --duration 20]
set -eo pipefail
WS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$WS/bootstrap.sh"
# shellcheck disable=SC1091
source "$WS/env.sh"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
exec emotion-node demo "$@"
