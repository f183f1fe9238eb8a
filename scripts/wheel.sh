#!/usr/bin/env bash
# Makes dist/mgpr-<version>-py3-none-manylinux_2_28_x86_64.whl: mgpr for any Linux x86-64
# with glibc 2.28 or newer (RHEL 8 and later, Ubuntu 20.04 and later, Debian 11 and
# later), installed with pip into any venv or conda environment. Prints its path.
#
#   mgpr/__init__.py, __main__.py   `mgpr` and `mgpr-test-image` on PATH (console scripts
#                                   that exec the binary), `python -m mgpr`, mgpr.predict()
#   mgpr/bin/mgpr                   one release binary for both commands (it answers to the
#                                   name it is called by), Swift's runtime and gcc 10's
#                                   libstdc++ linked in, RUNPATH $ORIGIN/../lib
#   mgpr/lib/                       GDAL 3.10 and what it needs (rasterio 1.4.4's manylinux
#                                   build), oneDNN 3.2 (scripts/onednn.sh), libgomp (gcc 10)
#   mgpr/share/gdal, share/proj     GDAL's and PROJ's data (proj.db), found by mgpr itself
#   mgpr/share/licenses/            the licence of each part
#
# How it reaches glibc 2.28 on a Debian 12 machine (glibc 2.36): the binary is linked
# against Debian bullseye's glibc 2.31 and gcc 10 (a root made by scripts/debian-root.sh),
# so each glibc symbol binds to the oldest version 2.31 has, plus a small compatibility
# file for the few that 2.29-2.31 added (scripts/wheel/glibc-compat.c). The shipped
# libraries come from wheels already built for manylinux (Intel's oneDNN, rasterio's GDAL),
# libgomp from bullseye. scripts/wheel-check.sh reads every file's version needs and
# installs the wheel on bullseye.
#
# Usage: scripts/wheel.sh [OUTDIR]   (default dist/); needs root the first time
#        (debootstrap, the Debian packages).
# Environment: MGPR_WHEEL_SCRATCH  swift build's --scratch-path (default .build-wheel)
#              MGPR_WHEEL_VERSION  overrides the version (default: `mgpr --version`)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

MGPR_APT_PACKAGES=(libgdal-dev unzip python3-pip patchelf binutils debootstrap)
source scripts/setup.sh

outdir=${1:-dist}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
scratch=${MGPR_WHEEL_SCRATCH:-.build-wheel}
sysroot=$(scripts/debian-root.sh bullseye libc6-dev libstdc++-10-dev gcc libgomp1)
gomp="$sysroot/usr/lib/x86_64-linux-gnu/libgomp.so.1"

# GDAL and its libraries from rasterio's manylinux_2_28 wheel (their sonames carry a hash,
# libgdal-c8c9c467.so.36..., so they never meet another GDAL in the same process).
rasterio_wheel=$(mgpr_cached_wheel "rasterio==1.4.4" e24b7b8c2df801dde2a1dffb44c58902bd76b5cab740dc11de4ff9963992a71a \
    --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311)

work=$(mktemp -d "${TMPDIR:-/tmp}/mgpr-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
unzip -q "$rasterio_wheel" 'rasterio.libs/*' 'rasterio/gdal_data/*' 'rasterio/proj_data/*' \
    'rasterio-1.4.4.dist-info/*' -d "$work/rasterio"
gdal_libs="$work/rasterio/rasterio.libs"
libgdal=$(cd "$gdal_libs" && ls libgdal-*.so.*)

# What the link sees: GDAL's headers from Debian's libgdal-dev (its C API is the same
# across 3.x) and rasterio's libgdal as -lgdal; gcc 10's libstdc++.a alone in a folder of
# its own, so the -lstdc++ that Swift's static runtime asks for takes the archive.
mkdir -p "$work/link" "$work/pkgconfig"
ln -s "$gdal_libs/$libgdal" "$work/link/libgdal.so"
ln -s "$sysroot/usr/lib/gcc/x86_64-linux-gnu/10/libstdc++.a" "$work/link/libstdc++.a"
printf '%s\n' "Name: gdal" "Description: rasterio 1.4.4's GDAL" "Version: 3.10.3" \
    "Libs: -L$work/link -lgdal" "Cflags: -I/usr/include/gdal" >"$work/pkgconfig/gdal.pc"
clang --sysroot="$sysroot" -O2 -fno-builtin -fPIC -Wall -Werror -c scripts/wheel/glibc-compat.c -o "$work/glibc-compat.o"
clang++ --sysroot="$sysroot" -O2 -fPIC -Wall -Werror -c scripts/wheel/libstdcxx-compat.cpp -o "$work/libstdcxx-compat.o"

build=(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product mgpr
    -Xswiftc -Xclang-linker -Xswiftc --sysroot="$sysroot"
    -Xlinker -L"$work/link" -Xlinker -rpath-link="$gdal_libs"
    -Xlinker "$work/glibc-compat.o" -Xlinker "$work/libstdcxx-compat.o")
echo "wheel: ${build[*]}" >&2
PKG_CONFIG_PATH="$work/pkgconfig" "${build[@]}" >&2
bin_path=$(PKG_CONFIG_PATH="$work/pkgconfig" "${build[@]}" --show-bin-path)

version=${MGPR_WHEEL_VERSION:-$(LD_LIBRARY_PATH="$gdal_libs" "$bin_path/mgpr" --version | awk 'NR == 1 { print $2 }')}
[[ "$version" =~ ^[0-9]+(\.[0-9]+)*([a-z0-9.+-]*)$ ]] || { echo "wheel: cannot tell mgpr's version ('$version')" >&2; exit 1; }

# The package tree.
pkg="$work/tree/mgpr"
mkdir -p "$pkg/bin" "$pkg/lib" "$pkg/share/gdal" "$pkg/share/proj" "$pkg/share/licenses"
cp python/mgpr/__init__.py python/mgpr/__main__.py "$pkg/"
install -m 755 "$bin_path/mgpr" "$pkg/bin/mgpr"
strip "$pkg/bin/mgpr"
patchelf --set-rpath '$ORIGIN/../lib' "$pkg/bin/mgpr"
cp "$gdal_libs"/*.so* "$pkg/lib/"
install -m 644 "$(readlink -f /usr/local/lib/x86_64-linux-gnu/libdnnl.so.3)" "$pkg/lib/libdnnl.so.3"
install -m 644 "$(readlink -f "$gomp")" "$pkg/lib/libgomp.so.1"
# oneDNN and SQLite arrive with their symbol tables (15 MB between them); the loader needs
# none of it. Then RUNPATH, which is per object (not inherited): each library's $ORIGIN.
for library in "$pkg"/lib/*; do
    chmod 644 "$library"
    if readelf -S "$library" | grep -qE ' \.(symtab|debug_[a-z]+) '; then strip --strip-unneeded "$library"; fi
    patchelf --set-rpath '$ORIGIN' "$library"
done
cp -r "$work/rasterio/rasterio/gdal_data/." "$pkg/share/gdal/"
cp -r "$work/rasterio/rasterio/proj_data/." "$pkg/share/proj/"

# Licences: each part's own text, and one file saying what is inside and under what terms.
licenses="$pkg/share/licenses"
cp "$work/rasterio/rasterio-1.4.4.dist-info/"LICENSE* "$licenses/rasterio-LICENSE.txt" 2>/dev/null ||
    cp "$work/rasterio/rasterio-1.4.4.dist-info/licenses/"* "$licenses/" 2>/dev/null || true
cp "$work/rasterio/rasterio/gdal_data/LICENSE.TXT" "$licenses/GDAL-LICENSE.TXT"
cp /usr/local/share/doc/onednn/LICENSE "$licenses/oneDNN-LICENSE.txt"
cp /usr/local/share/doc/onednn/THIRD-PARTY-PROGRAMS "$licenses/oneDNN-THIRD-PARTY-PROGRAMS.txt"
cp "$sysroot/usr/share/doc/libgomp1/copyright" "$licenses/libgomp-copyright.txt"
cp "$sysroot/usr/share/doc/libstdc++-10-dev/copyright" "$licenses/libstdc++-copyright.txt" 2>/dev/null ||
    cp "$sysroot/usr/share/doc/gcc-10-base/copyright" "$licenses/libstdc++-copyright.txt"
swift_root=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")
for file in "$swift_root"/share/swift/LICENSE.txt "$swift_root"/share/doc/swift/LICENSE.txt; do
    [ -f "$file" ] && cp "$file" "$licenses/Swift-LICENSE.txt" && break
done
cp scripts/wheel/NOTICE.md "$licenses/NOTICE.md"

# The wheel itself (a zip with the metadata pip reads), written by Python's zipfile.
python3 scripts/wheel/assemble.py "$work/tree" "$outdir" "$version"
