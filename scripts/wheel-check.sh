#!/usr/bin/env bash
# Proves that a wheel from scripts/wheel.sh installs and runs where mgpr's users are:
#  (a) every ELF file in it needs at most GLIBC_2.28 and the libstdc++/libgcc versions
#      manylinux_2_28 allows, and each library it needs is shipped or allowed from the
#      system (scripts/wheel/version_needs.py, with a negative control: this machine's
#      own /bin/true, which needs glibc 2.34, must fail it), and auditwheel's own verdict;
#  (b) the glibc compatibility file (scripts/wheel/glibc-compat.c) does what it says,
#      here and on bullseye (scripts/wheel/compat_test.c);
#  (c) on Debian bullseye (glibc 2.31) holding only its base system and python3-venv
#      (scripts/debian-root.sh), in a chroot with a private mount and PID namespace and no
#      network use: `pip install` of the wheel into a fresh venv, then mgpr --version and
#      --help, python -m mgpr, mgpr doctor, mgpr-test-image, Faster R-CNN over the NEON
#      crop (.fixtures/OSBS_029.tif, UTM 17N) to GeoPackage and to RFC 7946 GeoJSON, whose
#      coordinates are checked against the crop's own longitude/latitude extent (so PROJ
#      found its data), the dummy job, and mgpr.predict from Python (results, and its
#      error on a missing file);
#  (d) here, in a venv that sees Debian's geopandas: mgpr.predict returns a GeoDataFrame.
# Exits nonzero on any failure. Needs root (debootstrap, chroot, unshare, mount).
#
# Usage: scripts/wheel-check.sh [WHEEL]   (default: the newest dist/mgpr-*.whl)
set -euo pipefail
script=$(readlink -f "$0")
cd "$(dirname "$0")/.."

# ---- (c), second half: runs inside `unshare`, so the mounts vanish with it.
if [ "${1:-}" = "--inside" ]; then
    set +e # each step reports and counts its own failure
    rootfs=$2 wheel=$3
    for node in null zero urandom random; do
        : >"$rootfs/dev/$node"
        mount --bind "/dev/$node" "$rootfs/dev/$node"
    done
    chroot_path=/opt/venv/bin:/usr/bin:/bin
    source "$(dirname "$script")/chroot-steps.sh"

    run 0 glibc /bin/sh -c 'ldd --version | head -1' && sed 's/^/          /' "$rootfs/tmp/glibc.log"
    run 0 compat /tmp/compat_test && run 0 compat-fallback /tmp/compat_test_fallback fallback
    run 0 venv python3 -m venv /opt/venv || exit 1
    run 0 pip-install /opt/venv/bin/pip install --no-index --no-deps "/tmp/$wheel" || { tail -20 "$rootfs/tmp/pip-install.log"; exit 1; }
    run 0 version mgpr --version && expect_in version '^mgpr [0-9]'
    run 0 help mgpr --help && expect_in help 'dummy_dataset_count'
    run 0 python-m python -m mgpr --version && expect_in python-m '^mgpr [0-9]'
    # doctor exits 1 when it flags this machine (no GPU, no SLURM); what matters is that it
    # runs and loads the wheel's own libraries (it reads /proc/self/maps).
    run ran doctor mgpr doctor
    for library in libgdal libdnnl libgomp; do
        expect_in doctor "$library\\.so +/opt/venv/lib/python3[^ ]*/site-packages/mgpr/lib/$library"
    done
    sed -n '/^Libraries/,/^$/p' "$rootfs/tmp/doctor.log" | sed 's/^/          /'
    run 0 test-image mgpr-test-image image_size=1024 image_path=/tmp/test.tif
    # The NEON crop through GDAL's reader, Faster R-CNN and both vector writers.
    run 0 neon-gpkg mgpr image_path=/tmp/OSBS_029.tif tile_size=400 run_dir=/tmp/neon-gpkg output=/tmp/neon.gpkg
    run 0 neon-geojson mgpr image_path=/tmp/OSBS_029.tif tile_size=400 run_dir=/tmp/neon-geojson output=/tmp/neon.geojson
    run 0 dummy-job mgpr dummy_dataset_count=8 output=none run_dir=/tmp/dummy && expect_in dummy-job 'Prediction completed'
    cat >"$rootfs/tmp/predict.py" <<'EOF'
import mgpr
path = mgpr.predict("/tmp/OSBS_029.tif", tile_size=400, run_dir="/tmp/predict", output="/tmp/predict.gpkg", log=None)
assert path == "/tmp/predict.gpkg", path
print("predict returned", path)
try:
    mgpr.predict("/tmp/missing.tif", log=None)
except mgpr.MGPRError as error:
    assert error.returncode == 1 and "/tmp/missing.tif" in error.error, (error.returncode, error.error)
    print("predict raised:", error)
else:
    raise SystemExit("predict on a missing file did not raise")
EOF
    run 0 predict python /tmp/predict.py && sed 's/^/          /' "$rootfs/tmp/predict.log"
    exit $((failures > 0))
fi

# ---- the outer part, on the host.
[ "$(id -u)" -eq 0 ] || { echo "wheel-check: needs root (debootstrap, chroot, unshare, mount)" >&2; exit 1; }
MGPR_APT_PACKAGES=(debootstrap gdal-bin python3-pip python3-venv python3-geopandas)
source scripts/setup.sh
wheel=${1:-$(ls -t dist/mgpr-*.whl 2>/dev/null | head -n1 || true)}
[ -n "$wheel" ] && [ -f "$wheel" ] || { echo "wheel-check: no wheel; run scripts/wheel.sh first or name the .whl" >&2; exit 1; }
[ -f .fixtures/OSBS_029.tif ] || scripts/fixtures.sh >&2
echo "wheel-check: $wheel: $(awk -v b="$(stat -c %s "$wheel")" 'BEGIN { printf "%.1f MB (%.1f MiB)", b / 1e6, b / 1048576 }')"
failures=0

echo "wheel-check: (a) the version needs of every ELF file"
python3 scripts/wheel/version_needs.py "$wheel" | sed -n '/FAIL/p;$p' || failures=$((failures + 1))
control=$(mktemp -d "${TMPDIR:-/tmp}/mgpr-control.XXXXXX")
cp /bin/true "$control/"
if python3 scripts/wheel/version_needs.py "$control" >/dev/null; then
    echo "  FAIL  the negative control (this machine's /bin/true) passed the version check"; failures=$((failures + 1))
else
    echo "  ok    the negative control (this machine's /bin/true, glibc 2.34) fails the version check"
fi
rm -rf "$control"
# auditwheel's own verdict, from PyPI (kept beside the other downloads).
audit="${MGPR_DOWNLOAD_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/mgpr/downloads}/auditwheel-6.8.2"
if [ ! -d "$audit/auditwheel" ]; then
    rm -rf "$audit"
    /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$audit" auditwheel==6.8.2 >&2
fi
verdict=$(PYTHONPATH="$audit" /usr/bin/python3 -m auditwheel show "$wheel" 2>&1 | tr '\n' ' ') || true
if [[ "$verdict" == *'platform tag: "manylinux_2_28_x86_64"'* ]]; then
    echo "  ok    auditwheel 6.8.2: consistent with manylinux_2_28_x86_64"
else
    echo "  FAIL  auditwheel 6.8.2 says: ${verdict:0:400}"; failures=$((failures + 1))
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mgpr-wheel-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "wheel-check: (b) the glibc compatibility file, linked as mgpr is"
sysroot=$(scripts/debian-root.sh bullseye libc6-dev libstdc++-10-dev gcc libgomp1)
export PATH="/opt/swift/usr/bin:$PATH"
clang --sysroot="$sysroot" -O2 -fno-builtin -Wall -c scripts/wheel/glibc-compat.c -o "$work/compat.o"
clang --sysroot="$sysroot" -O2 -fno-builtin -Wall -DMGPR_COMPAT_ADDCHDIR_VERSION='"GLIBC_0.0"' \
    -c scripts/wheel/glibc-compat.c -o "$work/compat-fallback.o"
clang --sysroot="$sysroot" -O2 -Wall scripts/wheel/compat_test.c "$work/compat.o" -ldl -lm -o "$work/compat_test"
clang --sysroot="$sysroot" -O2 -Wall scripts/wheel/compat_test.c "$work/compat-fallback.o" -ldl -lm -o "$work/compat_test_fallback"
"$work/compat_test" && "$work/compat_test_fallback" fallback || failures=$((failures + 1))

echo "wheel-check: (c) pip install and run on Debian bullseye (glibc 2.31), base system and python3-venv only"
base=$(scripts/debian-root.sh bullseye python3-venv)
rootfs=$work/root
cp -a "$base" "$rootfs"
mkdir -p "$rootfs/dev" "$rootfs/proc" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp "$wheel" .fixtures/OSBS_029.tif "$work/compat_test" "$work/compat_test_fallback" "$rootfs/tmp/"
inside=0
unshare --mount --propagation private --pid --fork --mount-proc="$rootfs/proc" \
    bash "$script" --inside "$rootfs" "$(basename "$wheel")" || inside=$?

# The coordinates, read outside with this machine's GDAL: the GeoPackage in UTM 17N inside
# the crop's extent, the GeoJSON in longitude/latitude inside the crop's WGS 84 extent.
if ((inside == 0)); then
    python3 - "$rootfs/tmp" .fixtures/OSBS_029.tif <<'EOF' || failures=$((failures + 1))
import json, subprocess, sys
tmp, crop = sys.argv[1], sys.argv[2]
info = json.loads(subprocess.run(["gdalinfo", "-json", crop], check=True, capture_output=True, text=True).stdout)
ring = info["wgs84Extent"]["coordinates"][0]
lon = (min(p[0] for p in ring), max(p[0] for p in ring)); lat = (min(p[1] for p in ring), max(p[1] for p in ring))
corners = info["cornerCoordinates"]
east = (corners["upperLeft"][0], corners["lowerRight"][0]); north = (corners["lowerRight"][1], corners["upperLeft"][1])
slack = 1e-6
geojson = json.load(open(f"{tmp}/neon.geojson"))
points = [p for f in geojson["features"] for p in f["geometry"]["coordinates"][0]]
assert points, "the GeoJSON holds no detections"
outside = [p for p in points if not (lon[0] - slack <= p[0] <= lon[1] + slack and lat[0] - slack <= p[1] <= lat[1] + slack)]
assert not outside, f"GeoJSON points outside the crop's lon/lat extent {lon} {lat}: {outside[:3]}"
print(f"  ok    neon.geojson: {len(geojson['features'])} detections, every corner inside the crop's lon/lat extent {lon[0]:.5f}..{lon[1]:.5f}, {lat[0]:.5f}..{lat[1]:.5f}")
gpkg = json.loads(subprocess.run(["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", f"{tmp}/neon.gpkg"],
                                  check=True, capture_output=True, text=True).stdout)
assert "32617" in json.dumps(gpkg.get("crs")), f"the GeoPackage is not in EPSG:32617: {gpkg.get('crs')}"
points = [p for f in gpkg["features"] for p in f["geometry"]["coordinates"][0]]
assert len(gpkg["features"]) == len(geojson["features"]), (len(gpkg["features"]), len(geojson["features"]))
outside = [p for p in points if not (east[0] - slack <= p[0] <= east[1] + slack and north[0] - slack <= p[1] <= north[1] + slack)]
assert not outside, f"GeoPackage points outside the crop {east} {north}: {outside[:3]}"
print(f"  ok    neon.gpkg: the same {len(gpkg['features'])} detections in EPSG:32617, inside the crop's extent")
EOF
fi

# ---- (d) here (Debian 12, glibc 2.36), in a venv that sees Debian's geopandas: predict
# returns a GeoDataFrame.
echo "wheel-check: (d) mgpr.predict with geopandas, in a venv here"
venv=$work/venv
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --no-index --no-deps --disable-pip-version-check "$wheel"
"$venv/bin/python" - "$work" <<'EOF' || failures=$((failures + 1))
import sys, geopandas, mgpr
work = sys.argv[1]
frame = mgpr.predict(".fixtures/OSBS_029.tif", tile_size=400, run_dir=f"{work}/host-run", output=f"{work}/host.gpkg", log=None)
assert isinstance(frame, geopandas.GeoDataFrame), type(frame)
assert len(frame) > 0 and frame.crs.to_epsg() == 32617, (len(frame), frame.crs)
assert {"score", "label"} <= set(frame.columns), list(frame.columns)
print(f"  ok    mgpr.predict returned a GeoDataFrame: {len(frame)} rows in EPSG:{frame.crs.to_epsg()}, columns {list(frame.columns)}")
EOF

if ((failures || inside)); then
    echo "wheel-check: FAILED" >&2
    exit 1
fi
echo "wheel-check: the wheel installs and runs on glibc 2.31, and needs at most glibc 2.28"
