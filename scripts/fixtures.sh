#!/usr/bin/env bash
# Fetches the real imagery the tests read: NEON orthophoto crops shipped in the PyPI
# package deepforest (pinned, so the pixels never change under the tests).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.fixtures"
mkdir -p "$dest"
if [ ! -f "$dest/OSBS_029.tif" ]; then
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
fi

# DeepForest's own window code, pinned: preprocess.py (compute_windows) and the module
# of the slidingwindow package it calls. The tests run it beside tiling=stride.
if [ ! -f "$dest/deepforest-code/SlidingWindow.py" ]; then
code="$(mktemp -d)"
python3 -m pip download --quiet --no-deps --dest "$code" "deepforest==2.1.0" "slidingwindow==0.0.14"
python3 - "$code" "$dest/deepforest-code" <<'PY'
import glob, os, sys, zipfile
wheels, dest = sys.argv[1], sys.argv[2]
os.makedirs(dest, exist_ok=True)
for pattern, member in [("deepforest-*.whl", "deepforest/preprocess.py"), ("slidingwindow-*.whl", "slidingwindow/SlidingWindow.py")]:
    with zipfile.ZipFile(glob.glob(f"{wheels}/{pattern}")[0]) as z:
        open(f"{dest}/{os.path.basename(member)}", "wb").write(z.read(member))
PY
rm -rf "$code"
echo "fixtures: $dest/deepforest-code" >&2
fi

# Reference weights and outputs from torchvision itself (Debian's python3-torchvision),
# made once and reused until what makes them changes. They are kept outside the clone,
# by the hash of the script and the modules it imports, in MGPR_FIXTURE_CACHE (default
# ~/.cache/mgpr/fixtures), and linked into .fixtures/: another clone on this machine
# (CI's) links to them instead of running torchvision again for half an hour. Delete
# the cache to make them anew.
cache="${MGPR_FIXTURE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/mgpr/fixtures}"
reference() {  # NAME SCRIPT [MODULE...]: keyed by the script and the modules it imports
    local stamp kept
    stamp="$(cd "$root" && cat "${@:2}" | sha256sum | cut -d' ' -f1)"
    [ "$(cat "$dest/$1/script.sha256" 2>/dev/null)" = "$stamp" ] && return 0
    kept="$cache/$1-$stamp"
    if [ "$(cat "$kept/script.sha256" 2>/dev/null)" != "$stamp" ]; then
        echo "fixtures: making $1 reference outputs with torchvision (a few minutes)" >&2
        mkdir -p "$cache"
        rm -rf "$cache/$1-"*  # those of earlier versions of the script
        /usr/bin/python3 "$root/$2" "$kept.partial" "$dest/OSBS_029.tif" >/dev/null
        echo "$stamp" >"$kept.partial/script.sha256"
        mv "$kept.partial" "$kept"
    fi
    rm -rf "$dest/$1" "$dest/$1.partial"
    ln -s "$kept" "$dest/$1"
}
seeded=scripts/reference/seeded.py
reference resnet50 Tests/ModelTests/reference/make_resnet50.py $seeded
reference fasterrcnn Tests/ModelTests/reference/make_fasterrcnn.py $seeded
reference detection_ops Tests/ModelTests/reference/make_detection_ops.py
reference retinanet Tests/ModelTests/reference/make_retinanet.py $seeded scripts/reference/seeded_retinanet.py
reference weights Tests/WeightsTests/reference/make_weights.py

# NVRTC, CUDA's run-time compiler, from PyPI into a private folder: the tests compile
# every CUDA kernel with it for sm_80 and sm_90, so a kernel that does not compile fails
# here, on machines with no GPU and no CUDA.
nvrtc_version=13.5.37
if [ "$(cat "$dest/nvrtc/version" 2>/dev/null)" != "$nvrtc_version" ]; then
    echo "fixtures: installing NVRTC $nvrtc_version (PyPI nvidia-cuda-nvrtc) into $dest/nvrtc" >&2
    rm -rf "$dest/nvrtc.partial" "$dest/nvrtc"
    python3 -m pip install --quiet --no-deps --no-compile --target "$dest/nvrtc.partial" "nvidia-cuda-nvrtc==$nvrtc_version"
    echo "$nvrtc_version" >"$dest/nvrtc.partial/version"
    mv "$dest/nvrtc.partial" "$dest/nvrtc"
fi
