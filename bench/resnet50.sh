#!/usr/bin/env bash
# ResNet50 benchmark (not a test): mgpr against PyTorch eager, 224/1024 px, batch 1/8,
# f32/bf16. WEIGHTS=file.pth to use your own weights, THREADS=n to set threads.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
exec /usr/bin/python3 bench/resnet50_bench.py
