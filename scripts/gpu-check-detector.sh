#!/usr/bin/env bash
# The detectors on a bare NVIDIA machine (no Swift, no GDAL; a Python with torch,
# torchvision and Lightning), from a bundle made here, in one run:
#   scripts/gpu-check-detector.sh BUNDLE.tar.xz OUT_DIR CROP.npy   (OUT_DIR/gpu-detector.tar.gz)
# CROP.npy: a real NEON crop, uint8 [3, 400, 400] (OSBS_029.tif's three bands, via numpy).
# 1. mgpr conformance: every op on the GPU against the CPU backend, and the detector's
#    kernels (transform, top-k, decoding, NMS, RoIAlign, post-processing) against the
#    CPU code they mirror;
# 2. correctness: a seeded, calibrated fasterrcnn_resnet50_fpn on the crop's 8
#    orientations (scripts/gpu/fasterrcnn_case.py): mgpr's detections on the CPU
#    backend, the GPU in float32 (TF32 off), TF32, float16 and bfloat16, compared by
#    scripts/gpu/detector_compare.py, with PyTorch's own autocast beside;
# 2b. the same for a seeded, tuned retinanet_resnet50_fpn (scripts/gpu/retinanet_case.py),
#    wholly on the GPU as Faster R-CNN is;
# 3. the benchmark: the demo's default job (Lightning, 1024 px dummy tiles, batch 16,
#    16-mixed; scripts/gpu/seed_fasterrcnn.py) against mgpr with the same settings,
#    with CUDA graphs and without, and in bf16-mixed: tiles/s, GPU utilisation and
#    memory from nvidia-smi sampled every 0.2 s, in one table;
# 4. mgpr on a generated 20000 px GeoTIFF (scripts/gpu/geotiff.py) at the same settings.
# MGPR_CHECK_PARTS picks some of "conformance correctness retinanet bench geotiff" (default: all);
# MGPR_BENCH_TILES sets the benchmark's tiles (default 1600).
set -uo pipefail
crop="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")"
source "$(dirname "$0")/gpu/common.sh" gpu-detector "$1" "$2"
parts=" ${MGPR_CHECK_PARTS:-conformance correctness retinanet bench geotiff} "
want() { [[ "$parts" == *" $1 "* ]]; }
want conformance && TAIL=30 step conformance 150 "$mgpr" conformance

case="$work/case"
if want correctness; then
TAIL=4 step fasterrcnn_case 180 "$python" "$root/scripts/gpu/fasterrcnn_case.py" --crop "$crop" --out "$case"
fi
detect() {  # MODEL CASE_DIR LABEL KEY=VALUE...
    local model="$1" dir="$2" label="$3"
    shift 3
    TAIL=2 step "${model}_detect_$label" 150 "$mgpr" forward "$dir/inputs.npy" "$dir/mgpr_$label.npy" model="$model" \
        weights="$dir/$model.pth" batch_size=8 "$@"
}
detect_all() {  # MODEL CASE_DIR KEY=VALUE...: on the CPU, then the GPU in each precision
    detect "$1" "$2" cpu accelerator=cpu precision=32 "${@:3}"
    detect "$1" "$2" f32 accelerator=gpu precision=32 tf32=false "${@:3}"
    detect "$1" "$2" tf32 accelerator=gpu precision=32 tf32=true "${@:3}"
    detect "$1" "$2" f16 accelerator=gpu precision=16-mixed "${@:3}"
    detect "$1" "$2" bf16 accelerator=gpu precision=bf16-mixed "${@:3}"
    TAIL=20 step "$1_compare" 60 "$python" "$root/scripts/gpu/detector_compare.py" --case "$2" --model "$1"
}
want correctness && detect_all fasterrcnn "$case"
if want retinanet; then
TAIL=4 step retinanet_case 240 "$python" "$root/scripts/gpu/retinanet_case.py" --crop "$crop" --out "$work/retinanet"
detect_all retinanet "$work/retinanet" detections_per_tile=300
fi

# The benchmark: each run with nvidia-smi sampling beside it.
workers=$(( $(nproc) - 2 ))
tiles=${MGPR_BENCH_TILES:-1600}
sampled() {  # NAME SECONDS COMMAND...
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 200 >"$out/$1.smi" 2>/dev/null &
    local sampler=$!
    step "$@"
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
}
if want bench; then
TAIL=3 sampled seed 200 "$python" "$root/scripts/gpu/seed_fasterrcnn.py" --json "$out/seed.json" --tiles "$tiles" \
    --batch 16 --tile-size 1024 --precision 16-mixed --workers "$workers" --delay 0
mgpr_run() {  # NAME SECONDS KEY=VALUE...
    local name="$1" limit="$2"
    shift 2
    TAIL=6 sampled "$name" "$limit" "$mgpr" model=fasterrcnn accelerator=gpu tile_size=1024 batch_size=16 \
        workers="$workers" loader_memory_mb=8192 run_dir="$work/runs/$name" "$@"
    cp "$work/runs/$name/summary.json" "$out/$name.summary.json" 2>/dev/null
    cp "$work/runs/$name/rank-0/metrics.csv" "$out/$name.metrics.csv" 2>/dev/null
}
mgpr_run mgpr_f16 150 precision=16-mixed dummy_dataset_count="$tiles" dummy_dataset_delay=0 output=none
MGPR_CUDA_GRAPHS=0 mgpr_run mgpr_f16_nographs 150 precision=16-mixed dummy_dataset_count="$tiles" dummy_dataset_delay=0 output=none
mgpr_run mgpr_bf16 150 precision=bf16-mixed dummy_dataset_count="$tiles" dummy_dataset_delay=0 output=none
fi
if want geotiff; then
TAIL=2 step geotiff 90 "$python" "$root/scripts/gpu/geotiff.py" --crop "$crop" --out "$work/big.tif" --size 20000
mgpr_run mgpr_geotiff 150 precision=16-mixed image_path="$work/big.tif" output="$work/big.csv"
head -3 "$work/big.csv" >"$out/big.head.csv" 2>/dev/null
fi

"$python" - "$out" <<'PY'
import csv, glob, json, os, sys
out = sys.argv[1]

def smi(name):
    """Mean GPU utilisation while busy (from the first to the last sample above 5%), and peak memory."""
    try:
        rows = [tuple(float(v) for v in line.split(",")) for line in open(f"{out}/{name}.smi") if line.strip()]
    except (OSError, ValueError):
        return float("nan"), float("nan")
    busy = [i for i, (u, _) in enumerate(rows) if u > 5]
    window = rows[busy[0]:busy[-1] + 1] if busy else rows
    return sum(u for u, _ in window) / max(len(window), 1), max((m for _, m in rows), default=float("nan")) / 1024

def steady(path):
    rows = sorted(csv.DictReader(open(path)), key=lambda r: float(r["finished_at_s"]))
    skip = max(2, len(rows) // 10)
    if len(rows) <= skip + 1:
        return float("nan"), {}
    t0, t1 = float(rows[skip - 1]["finished_at_s"]), float(rows[-1]["finished_at_s"])
    stages = {k: sum(float(r[k]) for r in rows[skip:]) for k in ("wait_s", "busy_s", "network_s", "copy_s", "postprocess_s", "read_s", "write_s") if k in rows[0]}
    return sum(int(r["tiles"]) for r in rows[skip:]) / max(t1 - t0, 1e-9), stages

print("Faster R-CNN, 1024 px tiles, batch 16, one GPU (tiles/s steady: batches after the first 10%):")
seed_rate = None
try:
    s = json.load(open(f"{out}/seed.json"))
    util, mem = smi("seed")
    seed_rate = s["steady_tiles_per_s"]
    print(f"  {'seed (Lightning, 16-mixed)':30} {seed_rate:8.1f} tiles/s steady ({s['tiles_per_s']:7.1f} over the run); "
          f"GPU busy {util:5.1f}%; peak {mem:5.1f} GiB (nvidia-smi), torch allocator {s['peak_memory_bytes'] / 2**30:.1f} GiB")
except (OSError, KeyError, TypeError) as e:
    print(f"  seed: no result ({e})")
for name in ("mgpr_f16", "mgpr_f16_nographs", "mgpr_bf16", "mgpr_geotiff"):
    path = f"{out}/{name}.summary.json"
    if not os.path.exists(path):
        print(f"  {name}: no result")
        continue
    s = json.load(open(path))
    rate, stages = steady(f"{out}/{name}.metrics.csv")
    util, mem = smi(name)
    d = s["devices"][0]
    nvml = f", NVML {100 * d['nvml_utilization']:.0f}%" if d.get("nvml_utilization") is not None else ""
    busy = stages.get("busy_s", 0) or 1e-9
    split = ", ".join(f"{k[:-2]} {100 * v / busy:.0f}%" for k, v in stages.items() if k in ("network_s", "copy_s", "postprocess_s"))
    ratio = f"; {rate / seed_rate:.2f}x the seed" if seed_rate else ""
    print(f"  {name:30} {rate:8.1f} tiles/s steady ({s['tiles_per_second']:7.1f} over the run, {s['tiles']} tiles){ratio}; "
          f"GPU busy {util:5.1f}%{nvml}; peak {mem:5.1f} GiB; wait {100 * stages.get('wait_s', 0) / busy:.1f}% of busy; "
          f"of busy: {split}")
PY
