#!/usr/bin/env bash
# Segmentation memory against raster size (not a test): mgpr model=unet (seeded) with
# stitch=blend and probabilities=true over square rasters of SIDES px whose only data
# is an L of DATA px along the top and left edges (the rest is nodata, so skip_empty
# leaves those tiles out): every size runs about the same number of tiles through the
# network, while the gather writes the whole class and probability rasters. Prints each
# run's peak RSS and the time of the gather; flat memory is the same peak at every side.
# SIDES="3000 30000", DATA=512, TILE=256, OVERLAP=32, PROBABILITIES=true (false, float);
# GDAL_CACHEMAX (MB) is passed on to mgpr, whose own cap is 256 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
exec /usr/bin/python3 bench/segmentation_memory.py
