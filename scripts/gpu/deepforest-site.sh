#!/usr/bin/env bash
# DeepForest 2.1.0 and what it imports that a bare NVIDIA machine's Python lacks, as one
# archive to carry there (no network there):
#   scripts/gpu/deepforest-site.sh OUT.tar.xz [PYTHON_VERSION]   (default 3.12, the machine's)
# The machine's Python has torch, torchvision, pytorch-lightning, pandas, OpenCV,
# huggingface_hub, matplotlib, scipy, timm and the rest of DeepForest's needs; these are
# what `from deepforest import main` and predict_tile import beyond them (found by
# importing it with only the machine's packages beside it). Binary wheels are the
# manylinux builds for PYTHON_VERSION, installed here with pip's --target so the archive
# unpacks straight onto PYTHONPATH there. DeepForest's sample data (20 MB of images that
# predict_tile never reads) is left out, so the archive (about 27 MB) fits beside the
# mgpr bundle in what one run carries.
set -euo pipefail
out="$1"
python_version="${2:-3.12}"
site_pins=(deepforest==2.1.0 slidingwindow==0.0.14 rasterio==1.4.3 affine==2.4.0 cligj==0.7.2 click-plugins==1.1.1
           shapely==2.0.6 geopandas==0.14.4 pyproj==3.6.1 kornia==0.8.2 kornia_rs==0.2.0 omegaconf==2.3.0
           xmltodict==1.0.4 supervision==0.31.2 defusedxml==0.7.1)
antlr=antlr4-python3-runtime==4.9.3  # omegaconf's parser; PyPI has only its source, pure Python

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
python3 -m pip wheel --quiet --no-deps --wheel-dir "$stage/wheels" "$antlr"
python3 -m pip install --quiet --no-deps --no-compile --target "$stage/site" \
    --only-binary=:all: --implementation cp --python-version "$python_version" \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    "${site_pins[@]}" "$stage"/wheels/*.whl
find "$stage/site/deepforest/data" -type f ! -name __init__.py -delete
echo "python $python_version: ${site_pins[*]} $antlr" >"$stage/site/DEEPFOREST-SITE"
tar -C "$stage/site" -cf - . | xz -9 -T0 >"$out"
echo "deepforest-site: $out, $(( $(stat -c %s "$out") / 1048576 )) MiB for Python $python_version" >&2
