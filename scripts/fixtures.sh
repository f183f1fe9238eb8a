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

# DeepForest's own evaluation (utilities.read_file, evaluate.evaluate_boxes, IoU.py) and
# what it imports that Debian 12 lacks or has too old (shapely 2, geopandas 0.14,
# omegaconf, tqdm), from PyPI into a private folder: the tests score mgpr's CSV with it.
# Its other imports (pandas, scipy, pyproj, rasterio, xmltodict, PIL, yaml) are Debian's.
eval_site=(shapely==2.0.6 geopandas==0.14.4 omegaconf==2.3.0 antlr4-python3-runtime==4.9.3 tqdm==4.67.1)
eval_version="deepforest==2.1.0 ${eval_site[*]}"
if [ "$(cat "$dest/deepforest-eval/version" 2>/dev/null)" != "$eval_version" ]; then
    rm -rf "$dest/deepforest-eval.partial" "$dest/deepforest-eval"
    mkdir -p "$dest/deepforest-eval.partial/deepforest"
    python3 -m pip install --quiet --no-deps --no-compile --target "$dest/deepforest-eval.partial/site" "${eval_site[@]}"
    python3 -m pip download --quiet --no-deps --dest "$dest/deepforest-eval.partial/wheel" "deepforest==2.1.0"
    python3 - "$dest/deepforest-eval.partial" <<'PY'
import glob, os, sys, zipfile
dest = sys.argv[1]
with zipfile.ZipFile(glob.glob(f"{dest}/wheel/deepforest-*.whl")[0]) as z:
    for member in ["utilities.py", "evaluate.py", "IoU.py", "conf/__init__.py", "conf/schema.py", "conf/config.yaml"]:
        os.makedirs(os.path.dirname(f"{dest}/deepforest/{member}"), exist_ok=True)
        open(f"{dest}/deepforest/{member}", "wb").write(z.read(f"deepforest/{member}"))
# The package's own __init__ imports Lightning only to silence its warnings; _ROOT is what
# utilities.py takes from it.
open(f"{dest}/deepforest/__init__.py", "w").write(
    '__version__ = "2.1.0"\nimport os\n_ROOT = os.path.abspath(os.path.dirname(__file__))\n')
PY
    rm -rf "$dest/deepforest-eval.partial/wheel"
    echo "$eval_version" >"$dest/deepforest-eval.partial/version"
    mv "$dest/deepforest-eval.partial" "$dest/deepforest-eval"
    echo "fixtures: $dest/deepforest-eval" >&2
fi

# segmentation_models_pytorch, pinned, from PyPI into a private folder: the segmentation
# references build its Unet with it. Its own imports that Debian 12 lacks (timm,
# pretrainedmodels, efficientnet_pytorch, tqdm) come pinned beside it; torch, torchvision,
# numpy, PIL and yaml are Debian's.
smp_site=(segmentation-models-pytorch==0.3.3 timm==0.9.2 pretrainedmodels==0.7.4 efficientnet-pytorch==0.7.1 tqdm==4.67.1)
smp_version="${smp_site[*]}"
if [ "$(cat "$dest/smp/version" 2>/dev/null)" != "$smp_version" ]; then
    rm -rf "$dest/smp.partial" "$dest/smp"
    python3 -m pip install --quiet --no-deps --no-compile --target "$dest/smp.partial/site" "${smp_site[@]}"
    echo "$smp_version" >"$dest/smp.partial/version"
    mv "$dest/smp.partial" "$dest/smp"
    echo "fixtures: $dest/smp" >&2
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
# From retinanet's tree model (its weights in .fixtures/retinanet), so keyed by its scripts too.
reference deepforest_periodic Tests/ModelTests/reference/make_deepforest_periodic.py \
    Tests/ModelTests/reference/make_retinanet.py $seeded scripts/reference/seeded_retinanet.py
# PyTorch's bf16 autocast on fasterrcnn's and retinanet's weights and tiles, so keyed by their scripts too.
reference bf16_detections Tests/ModelTests/reference/make_bf16_detections.py \
    Tests/ModelTests/reference/make_fasterrcnn.py Tests/ModelTests/reference/make_retinanet.py \
    $seeded scripts/reference/seeded_retinanet.py
reference weights Tests/WeightsTests/reference/make_weights.py
# torchvision's DeepLabV3 and FCN and smp's Unet; keyed by smp's pinned versions too.
reference segmentation Tests/ModelTests/reference/make_segmentation.py $seeded .fixtures/smp/version

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
