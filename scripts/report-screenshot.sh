#!/usr/bin/env bash
# Makes the report screenshots the README shows, from real NEON imagery (the 780 px
# mosaic the tests use) rendered by headless Chromium:
#   docs/report.png          DeepForest's tree model (the seeded fixture) in 256 px tiles
#                            overlapping by 32, over the mosaic with a no-data collar
#                            (skip_empty=true): detections per tile, skipped tiles.
#   docs/report-lost-rank.png ResNet50 in 128 px tiles, launched as rank 0 of 2 whose
#                            rank 1 never starts: the lost rank and its tiles in red.
# Run after scripts/test.sh has made the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
MGPR_APT_PACKAGES=(chromium)
source scripts/setup.sh
swift build -c release --product mgpr >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mosaic=.fixtures/retinanet/mosaic.tif

# A collar: the right 300 columns and the bottom 300 rows hold no data (0, declared as nodata).
/usr/bin/python3 - "$mosaic" "$work/collar.tif" <<'PY'
import sys, rasterio
with rasterio.open(sys.argv[1]) as src:
    a, profile = src.read(), src.profile
a[:, :, -300:] = 0
a[:, -300:, :] = 0
profile.update(nodata=0)
with rasterio.open(sys.argv[2], "w", **profile) as dst:
    dst.write(a)
PY

shot() { # report.html, png, height
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="1100,$3" \
        --screenshot="$PWD/$2" "file://$1" 2>/dev/null
    echo "$2" >&2
}

.build/release/mgpr model=retinanet weights=.fixtures/retinanet/deepforest_tree image_path="$work/collar.tif" \
    tile_size=256 overlap=32 skip_empty=true batch_size=2 run_dir="$work/trees" >&2
shot "$work/trees/report.html" docs/report.png 3000

# Rank 1 of 2 never starts: rank 0 does its half, waits gather_timeout, reports, exits 1.
RANK=0 WORLD_SIZE=2 .build/release/mgpr model=resnet50 weights=.fixtures/resnet50/resnet50.safetensors \
    image_path="$mosaic" tile_size=128 batch_size=4 gather_timeout=3 run_dir="$work/lost" >&2 || true
shot "$work/lost/report.html" docs/report-lost-rank.png 3000
