#!/usr/bin/env bash
# The node of an older revision and the node of this tree, side by side: rows alternate (old,
# new, old, new ...) so that both see the same machine load, and both are measured by this
# tree's node benchmark (emotion_node/bench/node.py: the same probe, CPU split and latencies).
#
#   source ros2_ws/env.sh
#   scripts/bench_node_compare.sh REV OUT.json [ROW ...]      # ROW: PERSONS:LLM, e.g. 30:on
#   scripts/bench_node_compare.sh 2565edd compare.json 30:off 30:on 10:on
#
# The old revision's Python package is taken with `git archive` into a temporary folder, with
# this build's generated messages (their definitions must not have changed), and run from
# there with PYTHONPATH. DURATION, WARMUP (seconds) and ROS_DOMAIN_ID (default 91) may be set.
set -euo pipefail
REV="${1:?usage: $0 REV OUT.json [PERSONS:LLM ...]}"
OUT="${2:?usage: $0 REV OUT.json [PERSONS:LLM ...]}"
shift 2
ROWS=("${@:-30:off}")
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OLD="$(mktemp -d /tmp/emotion_node_rev.XXXXXX)"
trap 'rm -rf "$OLD"' EXIT
git -C "$ROOT" archive "$REV" emotion_node models config | tar -x -C "$OLD"
BUILT="$(python -c 'import emotion_node, pathlib; print(pathlib.Path(emotion_node.__file__).parent)')"
cp -a "$BUILT/msg" "$BUILT"/*.so "$OLD/emotion_node/"
# The old package finds the data from where this tree found it.
EMOTION_NODE_DATA="${EMOTION_NODE_DATA:-$(python -c 'from emotion_node.skeleton.dataset import \
default_data_roots; print(":".join(str(r) for r in default_data_roots()))')}"
export EMOTION_NODE_DATA
BASE_PATH="${PYTHONPATH:-}"  # the colcon install's
: > "$OUT"
for row in "${ROWS[@]}"; do
  for code in old new; do
    if [[ $code == old ]]; then export PYTHONPATH="$OLD:$BASE_PATH"; else export PYTHONPATH="$BASE_PATH"; fi
    python - "$ROOT/emotion_node/bench/node.py" "$code" "$row" "$OUT" <<'EOF'
import importlib.util, json, os, sys
path, code, row, out = sys.argv[1:5]
spec = importlib.util.spec_from_file_location('bench_node', path)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
persons, llm = row.split(':')
result = bench.measure(int(persons), 30.0, llm == 'on', int(os.environ.get('ROS_DOMAIN_ID', 91)),
                       duration_s=float(os.environ.get('DURATION', 20)),
                       warmup_s=float(os.environ.get('WARMUP', 8)))
import emotion_node
result['code'] = code
result['package'] = os.path.dirname(emotion_node.__file__)
bench.print_rows([result])
with open(out, 'a') as f:
    f.write(json.dumps(result) + '\n')
EOF
  done
done
