#!/usr/bin/env bash
# The tokenizer's GPU paths in one short run (a few minutes): the backend, export, loading and
# TensorRT tests, which include the CUDA-graph and TensorRT cases that skip without a GPU (the
# rest of tests/runtime needs the LLM stack), then the tokenizer benchmark with
# the CUDA backends beside the CPU ones. Needs only a Python with torch (CUDA build), numpy,
# safetensors, onnx, onnxscript, onnxruntime, pyyaml, tqdm and pytest: no ROS.
#
#   scripts/gpu_check.sh [OUT_DIR]      (default runs/gpu; $OUT when set)
#
# A backend that cannot run there (no tensorrt, no onnxruntime-gpu) is listed with its reason
# under "skipped" in bench_tokenizer.json; the tests say which of them skipped and why.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-runs/gpu}}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export EMOTION_NODE_CACHE="${EMOTION_NODE_CACHE:-$out/cache}"  # exports and engines go here
python=${PYTHON:-python3}

"$python" - <<'EOF' 2>&1 | tee "$out/machine.txt"
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__,
      "cuda", torch.cuda.is_available() and torch.cuda.get_device_name())
for name in ("onnxruntime", "tensorrt"):
    try:
        module = __import__(name)
        extra = module.get_available_providers() if name == "onnxruntime" else ""
        print(name, module.__version__, extra)
    except ImportError as exc:
        print(name, "not importable:", exc)
EOF
# -c /dev/null: the repository's pytest.ini imports the package from the colcon install,
# which a bare GPU machine does not have; the source tree is on PYTHONPATH instead.
"$python" -m pytest -q -c /dev/null --rootdir . -p no:cacheprovider -ra \
    tests/runtime/test_backends.py tests/runtime/test_export.py tests/runtime/test_loading.py \
    tests/runtime/test_tensorrt_cache.py \
    2>&1 | tee "$out/tests_runtime.log"
tests_status=${PIPESTATUS[0]}
"$python" -m emotion_node bench tokenizer --device auto --persons 1 8 32 \
    --json "$out/bench_tokenizer.json" 2>&1 | tee "$out/bench_tokenizer.log"
bench_status=${PIPESTATUS[0]}
echo "runtime tests exit $tests_status, benchmark exit $bench_status; files in $out"
exit $(( tests_status || bench_status ))
