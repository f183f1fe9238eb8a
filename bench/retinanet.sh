#!/usr/bin/env bash
# RetinaNet benchmark (not a test): mgpr against torchvision's retinanet_resnet50_fpn in
# PyTorch eager, DeepForest's one-class model shape, 400 px and 1024 px tiles, batch 1/8.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
swift build -c release --product mgpr-test-image >&2
exec /usr/bin/python3 bench/retinanet_bench.py
