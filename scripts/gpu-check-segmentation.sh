#!/usr/bin/env bash
# Segmentation on a bare NVIDIA machine (no Swift, no GDAL; a Python with torch and
# torchvision), from a bundle made here, in one run:
#   scripts/gpu-check-segmentation.sh BUNDLE.tar.xz OUT_DIR CROP.npy   (OUT_DIR/gpu-segmentation.tar.gz)
# CROP.npy: a real NEON crop, uint8 [3, 400, 400] (OSBS_029.tif's three bands, via numpy).
# segmentation_models_pytorch and what it imports come from .fixtures/smp/site (made by
# scripts/fixtures.sh; carry it), put on PYTHONPATH.
# 1. mgpr conformance: every op on the GPU (bilinear resize with and without
#    align_corners, concatenation, ASPP, U-Net's upsampling) against the CPU backend;
# 2. correctness: seeded, calibrated deeplabv3_resnet50, fcn_resnet50 and smp's U-Net
#    (ResNet-34) on the crop's 8 orientations (scripts/gpu/segmentation_case.py): mgpr's
#    logits on the CPU backend and the GPU in float32 (TF32 off), TF32, float16 and
#    bfloat16, held to PyTorch's float64 beside PyTorch's own (segmentation_compare.py);
# 3. the benchmark: mgpr on 512 px dummy tiles, batch 16, 16-mixed and bf16-mixed,
#    against PyTorch eager autocast on the same GPU (tiles/s).
set -uo pipefail
crop="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")"
source "$(dirname "$0")/gpu/common.sh" gpu-segmentation "$1" "$2"
export PYTHONPATH="$root/.fixtures/smp/site${PYTHONPATH:+:$PYTHONPATH}"
TAIL=30 step conformance 150 "$mgpr" conformance
case="$work/segmentation"
TAIL=8 step segmentation_case 300 "$python" "$root/scripts/gpu/segmentation_case.py" --crop "$crop" --out "$case" --bench-tiles 480
for model in deeplabv3 fcn unet; do
    for run in "cpu accelerator=cpu precision=32" "f32 accelerator=gpu precision=32 tf32=false" "tf32 accelerator=gpu precision=32 tf32=true" \
               "f16 accelerator=gpu precision=16-mixed" "bf16 accelerator=gpu precision=bf16-mixed"; do
        set -- $run
        TAIL=2 step "${model}_$1" 120 "$mgpr" forward "$case/inputs.npy" "$case/$model.mgpr_$1.npy" model="$model" \
            weights="$case/$model.pth" batch_size=8 "${@:2}"
    done
done
TAIL=40 step compare 60 "$python" "$root/scripts/gpu/segmentation_compare.py" --case "$case"
workers=$(( $(nproc) - 2 ))
for model in deeplabv3 fcn unet; do
    for precision in 16-mixed bf16-mixed; do
        name="mgpr_${model}_$precision"
        TAIL=3 step "$name" 120 "$mgpr" model="$model" accelerator=gpu tile_size=512 batch_size=16 precision="$precision" \
            dummy_dataset_count=960 dummy_dataset_delay=0 workers="$workers" output=none run_dir="$work/runs/$name"
        cp "$work/runs/$name/summary.json" "$out/$name.summary.json" 2>/dev/null
    done
done
"$python" - "$out" "$case/torch_bench.json" <<'PY'
import json, os, sys
out, torch_path = sys.argv[1], sys.argv[2]
torch_rates = json.load(open(torch_path)) if os.path.exists(torch_path) else {}
print("512 px tiles, batch 16, one GPU: tiles/s over the run (mgpr: readers, pinned batches, argmax on the host)")
for model in ["deeplabv3", "fcn", "unet"]:
    for precision, label in [("16-mixed", "f16"), ("bf16-mixed", "bf16")]:
        path = f"{out}/mgpr_{model}_{precision}.summary.json"
        mgpr = json.load(open(path))["tiles_per_second"] if os.path.exists(path) else float("nan")
        torch_rate = torch_rates.get(f"{model}_{label}", float("nan"))
        print(f"  {model:10} {label:5} mgpr {mgpr:8.1f}  PyTorch eager autocast {torch_rate:8.1f}  ratio {mgpr / torch_rate:5.2f}")
PY
