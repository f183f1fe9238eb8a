#!/usr/bin/env bash
# Makes docs/report.png, the screenshot the README shows: a Faster R-CNN run (the
# torchvision reference weights the tests use) over a generated 3000 px GeoTIFF with a
# no-data collar, 500 px tiles overlapping by 50, skip_empty=true, its report.html
# rendered by headless Chromium. Run after scripts/test.sh has made the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
MGPR_APT_PACKAGES=(chromium)
source scripts/setup.sh
swift build -c release --product mgpr >&2
swift build -c release --product mgpr-test-image >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.build/release/mgpr-test-image image_size=3000 image_path="$work/ortho.tif" 2>/dev/null
# A collar: the right third and the bottom rows hold no data (0, declared as nodata).
/usr/bin/python3 - "$work/ortho.tif" <<'PY'
import sys, rasterio
with rasterio.open(sys.argv[1], "r+") as ds:
    a = ds.read()
    a[:, :, 2000:] = 0
    a[:, 2600:, :] = 0
    ds.write(a)
    ds.nodata = 0
PY
.build/release/mgpr image_path="$work/ortho.tif" weights=.fixtures/fasterrcnn/fasterrcnn.pth tile_size=500 overlap=50 \
    skip_empty=true precision=bf16-mixed run_dir="$work/run" >&2
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,3300 \
    --screenshot="$PWD/docs/report.png" "file://$work/run/report.html" 2>/dev/null
echo "docs/report.png" >&2
