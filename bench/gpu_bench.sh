#!/usr/bin/env bash
# Both benches on a CUDA machine, in about 5 minutes (each step has a time limit; 8 min at
# most in all). Numbers go to $OUT (default bench/gpu-results): machine.txt and, per step,
# a .txt table and a .json of its rows (written row by row, so a step cut short keeps what
# it measured).
#
#   bash bench/gpu_bench.sh                      # from anywhere; runs in the repository root
#   OUT=/tmp/gpu PYTHON=.venv/bin/python bash bench/gpu_bench.sh
#
# Needs a Python (default python3) with CUDA torch, torchvision and numpy. The transforms
# are compared with pyts (on the CPU, single-threaded, as pyts runs): where pyts is not
# installed it is installed from .whl/ when that folder holds its wheel
#   (here: python3 -m pip download --no-deps pyts==0.14.1 -d .whl; it needs numba,
#    scikit-learn, scipy and joblib there), else the transforms are timed without it.
#
# Exits 2 at once, with a message, where the Python sees no CUDA device; 1 where a step
# failed or ran out of time (the others still run); 0 otherwise.
#
# Steps:
#   1. every network at its paper size: bf16 autocast, channels-last, fused AdamW, eager,
#      at the config's batch sizes (what a paper-config training job does);
#   2. AlexNet and VGG16 (the >= 40 % of bf16 peak targets) at batch 256, eager and
#      torch.compile (compile time reported);
#   3. the transforms on the GPU against pyts on the CPU, 1000 series of 1024 at 64 px.
# Each reports its fraction of a peak measured in the same process (bf16 matmuls).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench/gpu-results}"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_bench.sh: $PY sees no CUDA device (torch.cuda.is_available() is False, or torch is missing);" \
        "this script measures the GPU only: run the CPU benches with 'make bench'" >&2
    exit 2
fi
mkdir -p "$OUT"
status=0

{
    date -u
    nvidia-smi || true
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
    nproc
} >"$OUT/machine.txt" 2>&1

if ! "$PY" -c "import pyts" 2>/dev/null; then
    if compgen -G ".whl/pyts-*.whl" >/dev/null; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/gpu_bench_site .whl/pyts-*.whl \
            && export PYTHONPATH="$PYTHONPATH:/tmp/gpu_bench_site"
    fi
fi
NO_PYTS=""
"$PY" -c "import pyts" 2>/dev/null || { NO_PYTS="--no-pyts"; echo "pyts not available: transforms timed without it" | tee -a "$OUT/machine.txt"; }

step() {  # step NAME SECONDS COMMAND...: run with a time limit, table to NAME.txt
    local name=$1 limit=$2
    shift 2
    echo "== $name (at most ${limit} s): $*"
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.txt"
    local code=${PIPESTATUS[0]}
    [ "$code" -eq 0 ] || { echo "== $name: exit $code"; status=1; }
}

step training_paper 120 "$PY" bench/training_efficiency.py --device cuda --sizes paper --amp bf16 \
    --channels-last on --fused-adam on --compile off --json "$OUT/training_paper.json"
step training_compiled 270 "$PY" bench/training_efficiency.py --device cuda --sizes paper --networks alexnet vgg16 \
    --amp bf16 --channels-last on --fused-adam on --compile off on --batch 256 --json "$OUT/training_compiled.json"
step transforms 90 "$PY" bench/transforms.py --device cuda --repeats 10 $NO_PYTS --json "$OUT/transforms.json"
exit $status
