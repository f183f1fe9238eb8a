#!/usr/bin/env bash
# preset=deepforest against DeepForest 2.1.0's own predict_tile on one GPU, on a bare
# NVIDIA machine (no Swift, no GDAL, no network; a Python with torch, torchvision and
# Lightning). DeepForest and what it needs beyond that Python (scripts/gpu/deepforest-site.sh,
# about 27 MB) and mgpr's bundle (about 37 MB) are too large to travel together, so the
# sides run as two calls on the same raster and weights, and meet in DeepForest's results:
#   scripts/gpu-check-deepforest.sh deepforest SITE.tar.xz OUT_DIR CROP.npy
#       DeepForest as it comes (batch 1, workers 0) and with batch 16 and 8 workers;
#       OUT_DIR/gpu-deepforest-side.tar.gz holds results/ (its tables and figures)
#   scripts/gpu-check-deepforest.sh mgpr BUNDLE.tar.xz OUT_DIR CROP.npy RESULTS_DIR
#       mgpr preset=deepforest (and with tf32=true) on the same raster, then the table
#       against RESULTS_DIR (the first call's results/); OUT_DIR/gpu-deepforest.tar.gz
# CROP.npy: a real NEON crop, uint8 [3, 400, 400] (OSBS_029.tif's three bands, via numpy).
# Each call makes the tree model from the crop (scripts/gpu/deepforest_case.py, on the
# CPU with fixed threads) and the raster (the crop mirrored out to SIZE px, default 12000:
# 1024 windows); the table refuses to compare runs whose weights or pixels differ, and
# says whether the two calls ran on the same GPU. ACCELERATOR=cpu runs the same steps on
# the CPU, to try the script on a machine without a GPU (PYTHON: a Python as that one's).
set -uo pipefail
side="$1"
crop="$(cd "$(dirname "$4")" && pwd)/$(basename "$4")"
case "$side" in
    deepforest) source "$(dirname "$0")/gpu/common.sh" gpu-deepforest-side - "$3" ;;
    mgpr) deepforest_results="$(cd "$5" && pwd)"
          source "$(dirname "$0")/gpu/common.sh" gpu-deepforest "$2" "$3" ;;
    *) echo "usage: $0 deepforest SITE.tar.xz OUT_DIR CROP.npy | mgpr BUNDLE.tar.xz OUT_DIR CROP.npy RESULTS_DIR" >&2
       exit 2 ;;
esac
nvidia-smi --query-gpu=uuid --format=csv,noheader >"$out/gpu-uuid"
export CROP="$crop" SIZE="${SIZE:-12000}" ACCELERATOR="${ACCELERATOR:-gpu}" WEIGHTS="$work/tree" THREADS="$(nproc)"
TAIL=2 step case 300 env OMP_NUM_THREADS=8 "$python" "$root/scripts/gpu/deepforest_case.py" --crop "$crop" --out "$WEIGHTS"
bench="$root/bench/deepforest_bench.py"
if [ "$side" = deepforest ]; then
    mkdir -p "$work/site" "$out/results"
    tar -xf "$2" -C "$work/site"
    cat "$work/site/DEEPFOREST-SITE"
    export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}" DEEPFOREST_PYTHON="$python"
    cp "$out/gpu-uuid" "$out/results/gpu-uuid"
    TAIL=3 step deepforest 420 "$python" "$bench" --side deepforest --results "$out/results" --name deepforest
    DEEPFOREST_BATCH_SIZE=16 DEEPFOREST_WORKERS=8 \
        TAIL=3 step deepforest_b16 420 "$python" "$bench" --side deepforest --results "$out/results" --name deepforest_b16
else
    cp -r "$deepforest_results" "$out/results"
    if cmp -s "$out/gpu-uuid" "$out/results/gpu-uuid"; then echo "both sides ran on this GPU ($(cat "$out/gpu-uuid"))"
    else echo "the sides ran on two GPUs of one kind: DeepForest on $(cat "$out/results/gpu-uuid"), mgpr on $(cat "$out/gpu-uuid")"; fi
    MGPR="$mgpr" MGPR_TF32=true TAIL=20 step mgpr 540 "$python" "$bench" --side mgpr --results "$out/results"
fi
