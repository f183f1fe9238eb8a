#!/usr/bin/env bash
# Fetches the real imagery the tests read: NEON orthophoto crops shipped in the PyPI
# package deepforest (pinned, so the pixels never change under the tests).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.fixtures"
[ -f "$dest/OSBS_029.tif" ] && exit 0
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" "deepforest==2.1.0"
python3 - "$tmp"/deepforest-*.whl "$dest" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    data = z.read("deepforest/data/OSBS_029.tif")
open(f"{dest}/OSBS_029.tif", "wb").write(data)
PY
echo "fixtures: $dest/OSBS_029.tif" >&2
