#!/usr/bin/env bash
# Faster R-CNN benchmark (not a test): mgpr against torchvision in PyTorch eager on the
# 1024 px tiles of a generated 4096 px GeoTIFF, batch 1/4, f32/bf16.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
swift build -c release --product mgpr-test-image >&2
exec /usr/bin/python3 bench/fasterrcnn_bench.py
