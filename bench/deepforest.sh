#!/usr/bin/env bash
# DeepForest benchmark (not a test): mgpr preset=deepforest against DeepForest's own
# predict_tile, same raster, same weights, CPU; see bench/deepforest_bench.py.
#
# DeepForest runs in its own virtualenv, made once and kept outside the clone, keyed by
# the pinned versions. Debian's torch 1.13 (python3-torch) cannot serve: deepforest 2.1.0
# needs pytorch-lightning >= 2.6, which imports torch._dynamo (torch 2). PyPI has no
# CPU-only torch for x86_64 Linux, so this is PyPI's default (CUDA) build, which runs on
# the CPU as well: about 3 GB to download (torch and its nvidia-* and triton wheels),
# 6.6 GB installed, once. Plain venv (no system site packages): pip resolves numpy, rasterio and the rest
# together instead of mixing them with Debian's.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
scripts/fixtures.sh  # the mosaic and the weights folder (.fixtures/retinanet)

DEEPFOREST=2.1.0 TORCH=2.15.0 TORCHVISION=0.29.2
venv="${XDG_CACHE_HOME:-$HOME/.cache}/mgpr/deepforest-venv-$DEEPFOREST-torch-$TORCH"
if [ ! -e "$venv/.complete" ]; then  # a half-made one (interrupted) is made anew
    echo "deepforest.sh: making $venv (once; about 3 GB from PyPI)" >&2
    rm -rf "$venv"
    if ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed"; then
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"  # venv's pip; scripts/setup.sh leaves it out
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    fi
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --index-url https://pypi.org/simple \
        "deepforest==$DEEPFOREST" "torch==$TORCH" "torchvision==$TORCHVISION" >&2
    touch "$venv/.complete"
fi
DEEPFOREST_PYTHON="$venv/bin/python" exec /usr/bin/python3 bench/deepforest_bench.py
