#!/usr/bin/env bash
# What the GPU checks carry to a bare NVIDIA machine, made here once, in .gpu/ (ignored):
#   .gpu/mgpr.tar.xz              mgpr's bundle (scripts/bundle.sh, xz -9: about 37 MB)
#   .gpu/crop.npy                 OSBS_029.tif's three bands, uint8 [3, 400, 400]
#   .gpu/deepforest-site.tar.xz   DeepForest for the machine's Python 3.12 (about 27 MB)
# then prints each check's command and the paths it carries (64 MiB a call, the working
# tree's own 4 MB included).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu
scripts/fixtures.sh >/dev/null  # OSBS_029.tif
/usr/bin/python3 - <<'PY'
import numpy as np
import rasterio
with rasterio.open(".fixtures/OSBS_029.tif") as ds:
    np.save(".gpu/crop.npy", ds.read((1, 2, 3)))
PY
MGPR_BUNDLE_XZ=1 scripts/bundle.sh .gpu/dist >/dev/null
mv .gpu/dist/mgpr-*-linux-x86_64.tar.xz .gpu/mgpr.tar.xz
rm -rf .gpu/dist
scripts/gpu/deepforest-site.sh .gpu/deepforest-site.tar.xz 3.12
ls -l .gpu
cat <<'TEXT'
Each line: the command, then what it carries.
  bash scripts/gpu-check.sh .gpu/mgpr.tar.xz $OUT                                     .gpu/mgpr.tar.xz
  bash scripts/gpu-check-detector.sh .gpu/mgpr.tar.xz $OUT .gpu/crop.npy              .gpu/mgpr.tar.xz .gpu/crop.npy
  bash scripts/gpu-check-segmentation.sh .gpu/mgpr.tar.xz $OUT .gpu/crop.npy          .gpu/mgpr.tar.xz .gpu/crop.npy .fixtures/smp/site
  bash scripts/gpu-check-deepforest.sh deepforest .gpu/deepforest-site.tar.xz $OUT .gpu/crop.npy
                                                                                      .gpu/deepforest-site.tar.xz .gpu/crop.npy
  then, with the first call's results/ unpacked here as .gpu/deepforest-results:
  bash scripts/gpu-check-deepforest.sh mgpr .gpu/mgpr.tar.xz $OUT .gpu/crop.npy .gpu/deepforest-results
                                                                                      .gpu/mgpr.tar.xz .gpu/crop.npy .gpu/deepforest-results
TEXT
