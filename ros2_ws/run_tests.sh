#!/usr/bin/env bash
# The test command: install what is missing (idempotent), build, and run the whole suite.
#   ros2_ws/run_tests.sh [pytest arguments]
set -eo pipefail
WS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$WS/bootstrap.sh"
# shellcheck disable=SC1091
source "$WS/env.sh"
# Tests keep DDS on this machine, in a domain of their own; a second suite running at the same
# time on the same machine moves all its domains with EMOTION_NODE_TEST_DOMAIN_SHIFT=13.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$((37 + ${EMOTION_NODE_TEST_DOMAIN_SHIFT:-0}))}"
cd "$WS/.."
set +e
pytest "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then echo "no tests were collected" >&2; exit 1; fi
exit $rc
