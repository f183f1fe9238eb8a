#!/usr/bin/env bash
# Runs every benchmark in bench/ once at a tiny size, so a benchmark whose script has
# rotted fails here rather than when someone wants its figures. This checks the
# scripts, not the speed: the figures it prints mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
run() {  # NAME COMMAND...
    echo "bench smoke: $1" >&2
    local log
    log="$(mktemp)"
    if ! "${@:2}" >"$log" 2>&1; then
        cat "$log" >&2
        echo "bench smoke: $1 FAILED" >&2
        exit 1
    fi
    tail -n 3 "$log" >&2
}
run loader env SIZES=2048 REPEATS=1 bench/loader.sh
run resnet50 env SIZES=224 BATCHES=1 SECONDS_PER_POINT=0.2 bench/resnet50.sh
run fasterrcnn env SIZE=1024 BATCHES=1 bench/fasterrcnn.sh
run retinanet env TILES=400 BATCHES=1 COUNT=1 bench/retinanet.sh
run ranks env RANKS="1 2" PER_RANK=32 DELAY=0.002 bench/ranks.sh
run segmentation env SIZES=64 BATCHES=1 SECONDS_PER_POINT=0.2 bench/segmentation.sh
run segmentation-memory env SIDES="600 1200" DATA=256 TILE=128 OVERLAP=16 bench/segmentation-memory.sh
# DeepForest's own stack is a 3 GB virtualenv (PyPI's torch is the CUDA build): made only
# where it is already cached, so the test command never downloads it.
venv="${XDG_CACHE_HOME:-$HOME/.cache}/mgpr/deepforest-venv-2.1.0-torch-2.15.0"
if [ -e "$venv/.complete" ]; then
    run deepforest env SIZE=780 bench/deepforest.sh
else
    echo "bench smoke: deepforest skipped: its virtualenv ($venv) is made by running bench/deepforest.sh once (3 GB)" >&2
fi
# Likewise OpenVINO, ONNX Runtime and current PyTorch (bench/cpu-peers.sh).
venv="${XDG_CACHE_HOME:-$HOME/.cache}/mgpr/cpu-peers-venv-torch-2.15.0-ort-1.32.0-ov-2026.4.1"
if [ -e "$venv/.complete" ]; then
    run cpu-peers env ROWS=resnet50-224-1 ROUNDS=1 SECONDS_PER_POINT=0.2 bench/cpu-peers.sh
else
    echo "bench smoke: cpu-peers skipped: its virtualenv ($venv) is made by running bench/cpu-peers.sh once (3 GB)" >&2
fi
if [ "$(id -u)" -eq 0 ]; then
    run scaling env COUNT=64 DELAY=0.001 REPEATS=1 WORKERS=1 bench/scaling.sh
else
    echo "bench smoke: scaling skipped: it starts a local SLURM cluster, which needs root" >&2
fi
echo "bench smoke: every benchmark ran" >&2
