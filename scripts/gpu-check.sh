#!/usr/bin/env bash
# The GPU checks, in one run on a bare NVIDIA machine (no Swift, no GDAL; a Python with
# torch, torchvision and CUDA, as GPU machines typically have), from a bundle made here:
#   scripts/gpu-check.sh BUNDLE.tar.xz OUT_DIR    (OUT_DIR/gpu-check.tar.gz: every log and result)
# 1. mgpr doctor accelerator=gpu: the driver, each library, each GPU, a smoke run;
# 2. mgpr conformance: every op on the GPU against the CPU backend;
# 3. ResNet50 on the same weights and pixels: mgpr CPU f32, GPU f32 (TF32 off), TF32,
#    float16, bfloat16, against PyTorch on the same GPU (scripts/gpu/resnet50_*.py);
# 4. the benchmark: mgpr's images/s on dummy data with no simulated delay (224 px, batch 64 and 256; 1024 px,
#    batch 8 and 16; 16-mixed and bf16-mixed) with its wait time from summary.json,
#    and PyTorch eager and torch.compile on the same GPU, in one table.
# Each step has its own time limit and log in OUT_DIR; a failed step does not stop the next.
set -uo pipefail
source "$(dirname "$0")/gpu/common.sh" gpu-check "$@"
TAIL=40 step doctor 90 "$mgpr" doctor accelerator=gpu workers=2 model=resnet50
TAIL=60 step conformance 120 "$mgpr" conformance

case="$work/case"
step case 60 "$python" "$root/scripts/gpu/resnet50_case.py" --out "$case" --seed 0 --count 256 --size 224
step torch_reference 90 "$python" "$root/scripts/gpu/resnet50_reference.py" --case "$case" --device cuda
forward() {  # LABEL KEY=VALUE...
    local label="$1"
    shift
    step "forward_$label" 60 "$mgpr" forward "$case/inputs.npy" "$case/mgpr_$label.npy" model=resnet50 \
        weights="$case/resnet50.pth" batch_size=64 "$@"
}
forward cpu accelerator=cpu precision=32
forward f32 accelerator=gpu precision=32 tf32=false
forward tf32 accelerator=gpu precision=32 tf32=true
forward f16 accelerator=gpu precision=16-mixed
forward bf16 accelerator=gpu precision=bf16-mixed
TAIL=40 step compare 60 "$python" "$root/scripts/gpu/resnet50_compare.py" --case "$case" --mgpr-cpu "$case/mgpr_cpu.npy" \
    --mgpr-f32 "$case/mgpr_f32.npy" --mgpr-tf32 "$case/mgpr_tf32.npy" --mgpr-f16 "$case/mgpr_f16.npy" --mgpr-bf16 "$case/mgpr_bf16.npy"

# mgpr on dummy data: the whole pipeline (readers, pinned batches, the GPU).
workers=$(( $(nproc) - 2 ))
bench() {  # SIZE BATCH PRECISION TILES
    local name="mgpr_$1_$2_$3"
    step "$name" 60 "$mgpr" model=resnet50 accelerator=gpu tile_size="$1" batch_size="$2" precision="$3" \
        dummy_dataset_count="$4" dummy_dataset_delay=0 loader_memory_mb=8192 workers="$workers" output=none run_dir="$work/runs/$name"
    cp "$work/runs/$name/summary.json" "$out/$name.summary.json" 2>/dev/null
    cp "$work/runs/$name/rank-0/metrics.csv" "$out/$name.metrics.csv" 2>/dev/null
}
for precision in 16-mixed bf16-mixed; do
    bench 224 64 $precision 12800
    bench 224 256 $precision 25600
    bench 1024 8 $precision 1600
    bench 1024 16 $precision 1600
done
TAIL=30 step torch_bench 150 "$python" "$root/scripts/gpu/resnet50_bench.py" --json "$out/torch_bench.json" --budget-seconds 90
"$python" - "$out" <<'PY'
import csv, glob, json, os, sys
out = sys.argv[1]

def steady(path):
    """Images/s once running: batches finishing after the first 10% (plans built, caches warm)."""
    rows = sorted(csv.DictReader(open(path)), key=lambda r: float(r["finished_at_s"]))
    skip = max(2, len(rows) // 10)
    if len(rows) <= skip + 1:
        return float("nan")
    t0, t1 = float(rows[skip - 1]["finished_at_s"]), float(rows[-1]["finished_at_s"])
    return sum(int(r["tiles"]) for r in rows[skip:]) / max(t1 - t0, 1e-9)

print("mgpr on dummy data (whole pipeline):")
for path in sorted(glob.glob(f"{out}/mgpr_*.summary.json")):
    s = json.load(open(path))
    busy, wait = s["busy_seconds"], s["wait_seconds"]
    d = s["devices"][0]
    nvml = f"  NVML {100 * d['nvml_utilization']:.0f}% busy" if d.get("nvml_utilization") is not None else ""
    metrics = path[:-len("summary.json")] + "metrics.csv"
    rate = steady(metrics) if os.path.exists(metrics) else float("nan")
    print(f"  {os.path.basename(path)[5:-13]:24} {rate:9.1f} images/s steady ({s['tiles_per_second']:8.1f} over the run, "
          f"plans built in it); wait {100 * wait / max(busy, 1e-9):5.1f}% of busy{nvml}")
PY
cat "$out/torch_bench.log" | tail -n 20
