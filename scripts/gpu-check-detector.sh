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
#    16-mixed; scripts/gpu/seed_fasterrcnn.py) rebuilt as the pretrained model is
#    (FrozenBatchNorm2d) with cudnn.benchmark, against mgpr with the same settings, with
#    CUDA graphs and without, and in bf16-mixed; both sides run the case's calibrated
#    weights, and each mgpr run writes its table, its first batch held to mgpr's own
#    float32 on the same tiles (scripts/gpu/bench_check.py). Tiles/s and GPU busy (NVML:
#    mgpr's own, and nvidia-smi sampled every 0.2 s) over the steady batches only (after
#    the first 10%), memory, in one table;
# 3b. (lanes) mgpr with 1 and 3 lanes per GPU and 8 images per pass, beside the default;
# 3c. (compile) the same job through torch.compile(mode="max-autotune");
# 4. mgpr on a generated 20000 px GeoTIFF (scripts/gpu/geotiff.py) at the same settings.
# MGPR_CHECK_PARTS picks some of "conformance correctness retinanet bench lanes compile geotiff"
# (default: all but compile, which takes minutes of autotuning);
# MGPR_BENCH_TILES sets the benchmark's tiles (default 1600).
set -uo pipefail
crop="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")"
source "$(dirname "$0")/gpu/common.sh" gpu-detector "$1" "$2"
parts=" ${MGPR_CHECK_PARTS:-conformance correctness retinanet bench lanes geotiff} "
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

# The benchmark: each run with nvidia-smi sampling beside it, with timestamps.
workers=$(( $(nproc) - 2 ))
tiles=${MGPR_BENCH_TILES:-1600}
sampled() {  # NAME SECONDS COMMAND...
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits -lms 200 >"$out/$1.smi" 2>/dev/null &
    local sampler=$!
    step "$@"
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
}
weights="$case/fasterrcnn.pth"
if want bench || want lanes || want compile || want geotiff; then
    [[ -f "$weights" ]] || TAIL=4 step fasterrcnn_case 180 "$python" "$root/scripts/gpu/fasterrcnn_case.py" --crop "$crop" --out "$case"
fi
seed_run() {  # NAME SECONDS ARGS...
    local name="$1" limit="$2"
    shift 2
    TAIL=3 sampled "$name" "$limit" "$python" "$root/scripts/gpu/seed_fasterrcnn.py" --json "$out/$name.json" --tiles "$tiles" \
        --batch 16 --tile-size 1024 --precision 16-mixed --workers "$workers" --delay 0 --weights "$weights" "$@"
}
mgpr_run() {  # NAME SECONDS KEY=VALUE...
    local name="$1" limit="$2"
    shift 2
    TAIL=6 sampled "$name" "$limit" "$mgpr" model=fasterrcnn weights="$weights" accelerator=gpu tile_size=1024 batch_size=16 \
        workers="$workers" loader_memory_mb=8192 run_dir="$work/runs/$name" output="$work/runs/$name.csv" "$@"
    cp "$work/runs/$name/summary.json" "$out/$name.summary.json" 2>/dev/null
    cp "$work/runs/$name/rank-0/metrics.csv" "$out/$name.metrics.csv" 2>/dev/null
}
dummy="dummy_dataset_count=$tiles dummy_dataset_delay=0"
bench_check() {  # RUN PRECISION: its first batch against the float32 reference
    TAIL=2 step "$1_check" 60 "$python" "$root/scripts/gpu/bench_check.py" --run "$work/runs/$1.csv" \
        --reference "$work/runs/mgpr_f32_reference.csv" --case "$case" --precision "$2"
}
if want bench; then
seed_run seed 240
mgpr_run mgpr_f32_reference 90 precision=32 tf32=false dummy_dataset_count=16 dummy_dataset_delay=0
mgpr_run mgpr_f16 150 precision=16-mixed $dummy
bench_check mgpr_f16 f16
MGPR_CUDA_GRAPHS=0 mgpr_run mgpr_f16_nographs 150 precision=16-mixed $dummy
mgpr_run mgpr_bf16 150 precision=bf16-mixed $dummy
bench_check mgpr_bf16 bf16
fi
if want lanes; then
mgpr_run mgpr_f16_lanes1 150 precision=16-mixed gpu_lanes=1 $dummy
mgpr_run mgpr_f16_lanes3 150 precision=16-mixed gpu_lanes=3 $dummy
mgpr_run mgpr_f16_pass8 150 precision=16-mixed images_per_pass=8 $dummy
fi
want compile && seed_run seed_compiled 540 --compile
if want geotiff; then
TAIL=2 step geotiff 90 "$python" "$root/scripts/gpu/geotiff.py" --crop "$crop" --out "$work/big.tif" --size 20000
mgpr_run mgpr_geotiff 150 precision=16-mixed image_path="$work/big.tif"
head -3 "$work/runs/mgpr_geotiff.csv" >"$out/big.head.csv" 2>/dev/null
fi

"$python" - "$out" <<'PY'
import csv, datetime, json, os, sys
out = sys.argv[1]

def smi(name, window=None):
    """Mean GPU utilisation from nvidia-smi over `window` (seconds since 1970; None: the
    whole run), and its peak memory in GiB."""
    rows = []
    try:
        for line in open(f"{out}/{name}.smi"):
            stamp, util, mem = [v.strip() for v in line.split(",")]
            rows.append((datetime.datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S.%f").timestamp(), float(util), float(mem)))
    except (OSError, ValueError):
        return float("nan"), float("nan")
    inside = [u for t, u, _ in rows if window is None or window[0] <= t <= window[1]]
    return sum(inside) / len(inside) if inside else float("nan"), max((m for _, _, m in rows), default=float("nan")) / 1024

def steady(name):
    """Tiles/s over the batches after the first 10% (at least 2), their window in seconds
    since 1970, and the stage seconds over them."""
    rows = sorted(csv.DictReader(open(f"{out}/{name}.metrics.csv")), key=lambda r: float(r["finished_at_s"]))
    skip = max(2, len(rows) // 10)
    if len(rows) <= skip + 1:
        return float("nan"), None, {}
    t0, t1 = float(rows[skip - 1]["finished_at_s"]), float(rows[-1]["finished_at_s"])
    stages = {k: sum(float(r[k]) for r in rows[skip:]) for k in ("wait_s", "busy_s", "network_s", "copy_s", "postprocess_s", "read_s", "write_s") if k in rows[0]}
    started = json.load(open(f"{out}/{name}.summary.json")).get("started_at")
    window = (started + t0, started + t1) if started else None
    return sum(int(r["tiles"]) for r in rows[skip:]) / max(t1 - t0, 1e-9), window, stages

print("Faster R-CNN, 1024 px tiles, batch 16, one GPU, the case's weights on both sides; tiles/s and GPU busy over the "
      "steady batches (after the first 10%):")
seed_rate = None
for name, label in (("seed", "seed (Lightning, 16-mixed)"), ("seed_compiled", "seed + torch.compile")):
    try:
        s = json.load(open(f"{out}/{name}.json"))
    except OSError:
        continue
    if s.get("error") or not s.get("steady_tiles_per_s"):
        print(f"  {label:34} no steady figure: {s.get('error') or 'too few batches'}")
        continue
    util, mem = smi(name, s["steady_window"])
    seed_rate = seed_rate or s["steady_tiles_per_s"]
    print(f"  {label:34} {s['steady_tiles_per_s']:8.1f} tiles/s steady ({s['tiles_per_s']:7.1f} over the run); "
          f"GPU busy {util:5.1f}% (nvidia-smi); peak {mem:5.1f} GiB, torch allocator {(s['peak_memory_bytes'] or 0) / 2**30:.1f} GiB")
for name in ("mgpr_f16", "mgpr_f16_nographs", "mgpr_bf16", "mgpr_f16_lanes1", "mgpr_f16_lanes3", "mgpr_f16_pass8", "mgpr_geotiff"):
    path = f"{out}/{name}.summary.json"
    if not os.path.exists(path):
        continue
    s = json.load(open(path))
    rate, window, stages = steady(name)
    util, mem = smi(name, window)
    d = s["devices"][0]
    nvml = f", NVML {100 * d['nvml_steady_utilization']:.0f}%" if d.get("nvml_steady_utilization") is not None else ""
    busy = stages.get("busy_s", 0) or 1e-9
    split = ", ".join(f"{k[:-2]} {100 * v / busy:.0f}%" for k, v in stages.items() if k in ("network_s", "copy_s", "postprocess_s"))
    ratio = f"; {rate / seed_rate:.2f}x the seed" if seed_rate else ""
    print(f"  {name:34} {rate:8.1f} tiles/s steady ({s['tiles_per_second']:7.1f} over the run, {s['tiles']} tiles){ratio}; "
          f"GPU busy {util:5.1f}% (nvidia-smi){nvml}; peak {mem:5.1f} GiB; wait {100 * stages.get('wait_s', 0) / busy:.1f}% of busy; "
          f"of busy (one lane's view, lanes overlap): {split}")
PY
