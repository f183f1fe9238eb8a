#!/usr/bin/env bash
# Segmentation benchmark (not a test): mgpr model=deeplabv3, fcn and unet against PyTorch
# eager (torchvision's models; smp's Unet from .fixtures/smp, made by scripts/fixtures.sh)
# on the same seeded weights and tiles, f32 and bf16, tiles/s and peak memory.
# SIZES="512", BATCHES="1 4", MODELS="deeplabv3 fcn unet", SECONDS_PER_POINT=4, THREADS=n.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
exec /usr/bin/python3 bench/segmentation_bench.py
