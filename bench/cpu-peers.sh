#!/usr/bin/env bash
# CPU benchmark against the strongest CPU runtimes (not a test): mgpr beside OpenVINO,
# ONNX Runtime and current PyTorch, same seeded weights, same tiles, same threads; see
# bench/cpu_peers.py for what each row measures and the knobs (THREADS, ROWS, ROUNDS,
# SECONDS_PER_POINT, PRECISIONS).
#
# The peers run in their own virtualenv, made once outside the clone and keyed by the
# pinned versions. PyPI has no CPU-only torch for x86_64 Linux, so torch is PyPI's
# default (CUDA) build, which runs on the CPU as well: about 3 GB to download, 6 GB
# installed, once. torch exports the ONNX graphs that ONNX Runtime and OpenVINO run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
swift build -c release --product mgpr-test-image >&2

TORCH=2.15.0 TORCHVISION=0.29.2 ONNXRUNTIME=1.32.0 OPENVINO=2026.4.1 ONNX=1.23.2
venv="${XDG_CACHE_HOME:-$HOME/.cache}/mgpr/cpu-peers-venv-torch-$TORCH-ort-$ONNXRUNTIME-ov-$OPENVINO"
if [ ! -e "$venv/.complete" ]; then  # a half-made one (interrupted) is made anew
    echo "cpu-peers.sh: making $venv (once; about 3 GB from PyPI)" >&2
    rm -rf "$venv"
    if ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed"; then
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"  # venv's pip; scripts/setup.sh leaves it out
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    fi
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --index-url https://pypi.org/simple --only-binary=:all: \
        "torch==$TORCH" "torchvision==$TORCHVISION" "onnxruntime==$ONNXRUNTIME" "openvino==$OPENVINO" "onnx==$ONNX" >&2
    touch "$venv/.complete"
fi
PEERS_PYTHON="$venv/bin/python" exec /usr/bin/python3 bench/cpu_peers.py
