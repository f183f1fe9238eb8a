#!/usr/bin/env bash
# Loader throughput benchmark (not a test): mgpr model=none against rasterio on the
# same generated 8192 px GeoTIFF, 1 and 2 reader threads. SIZES="8192 16384" REPEATS=5 to vary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
swift build -c release --product mgpr-test-image >&2
exec /usr/bin/python3 bench/loader_bench.py
