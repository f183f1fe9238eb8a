#!/usr/bin/env bash
# Proves that a bundle from scripts/bundle.sh is self-contained. Unpacks it into a temporary
# directory, then:
#  (a) runs ldd (LD_LIBRARY_PATH and LD_PRELOAD unset) on every binary and bundled library
#      and fails unless each library resolves inside the bundle or is one the bundle takes
#      from the system (glibc's own, libstdc++, libgcc_s, libz, libexpat: manylinux_2_28's
#      set), and checks the RUNPATHs ($ORIGIN/../lib on bin/*, $ORIGIN on lib/*);
#  (b) builds a minimal root file system holding only those system libraries (copied from
#      /lib/x86_64-linux-gnu), /dev/null, /dev/zero, /dev/urandom, a fresh /proc, an empty
#      /tmp and the bundle under /opt, and runs the binaries there with chroot, in a private
#      mount and PID namespace (unshare), with an empty environment: --version and --help,
#      `mgpr doctor` (which must show libgdal, libdnnl and libgomp loaded from the bundle),
#      mgpr-test-image (GDAL writing a GeoTIFF in EPSG:32617: PROJ must find the bundle's
#      proj.db), a Faster R-CNN run over that image (one tile) into run_dir/detections.gpkg,
#      and the dummy job
#      (dummy_dataset_count=8 output=none); then hides one bundled library and expects mgpr
#      to fail to start, which shows the system's copies are out of reach.
# Exits nonzero on any failure. Needs root (chroot, unshare, mount).
#
# Usage: scripts/bundle-check.sh [BUNDLE.tar.gz|.tar.xz]
#        (default: the newest dist/mgpr-*-linux-x86_64.tar.gz or .tar.xz)
set -euo pipefail
script=$(readlink -f "$0")
cd "$(dirname "$0")/.."

# What the bundle takes from the system, by soname, and what the chroot gets: the glibc
# family and the few others manylinux_2_28 allows (scripts/bundle.sh says why).
glibc_re='^(libstdc\+\+\.so\.6|libgcc_s\.so\.1|libz\.so\.1|libexpat\.so\.1|linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libmvec\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libresolv\.so\.2|libutil\.so\.1|libanl\.so\.1|libnsl\.so\.1|libBrokenLocale\.so\.1|libthread_db\.so\.1|libc_malloc_debug\.so\.0|libnss_(files|dns|compat|hesiod|db)\.so\.2)$'

# ---- (b), second half: runs inside `unshare`, i.e. in a private mount and PID namespace, so
# every mount below disappears with it and nothing is left mounted on the host.
if [ "${1:-}" = "--inside" ]; then
    set +e # each step reports and counts its own failure
    rootfs=$2 name=$3
    for node in null zero urandom; do
        : >"$rootfs/dev/$node"
        mount --bind "/dev/$node" "$rootfs/dev/$node"
    done
    opt=/opt/$name
    chroot_path="$opt/bin"
    source "$(dirname "$script")/chroot-steps.sh"

    run 0 version "$opt/bin/mgpr" --version && expect_in version '^mgpr [0-9]'
    run 0 help "$opt/bin/mgpr" --help && expect_in help 'dummy_dataset_count'
    run 0 test-image-help "$opt/bin/mgpr-test-image" --help
    # doctor exits 1 when it flags a problem of this machine (e.g. no SLURM); what matters
    # here is where the libraries were loaded from (it reads /proc/self/maps).
    run ran doctor "$opt/bin/mgpr" doctor
    for library in libgdal libdnnl libgomp; do
        expect_in doctor "$library\\.so +$opt/lib/$library"
    done
    sed -n '/^Libraries/,/^$/p' "$rootfs/tmp/doctor.log" | sed 's/^/          /'
    if run 0 test-image "$opt/bin/mgpr-test-image" image_size=1024 image_path=/tmp/test.tif; then
        if command -v gdalsrsinfo >/dev/null; then # the system's GDAL, outside the chroot
            if gdalsrsinfo -o epsg "$rootfs/tmp/test.tif" 2>/dev/null | grep -q 'EPSG:32617'; then
                echo "  ok    test.tif is in EPSG:32617 (checked with the system's gdalsrsinfo)"
            else
                echo "  FAIL  test.tif has no EPSG:32617 CRS"; failures=$((failures + 1))
            fi
        fi
        # One 1024 px tile through GDAL's reader, Faster R-CNN and GDAL's GeoPackage writer.
        if run 0 raster "$opt/bin/mgpr" image_path=/tmp/test.tif run_dir=/tmp/raster &&
            [ ! -s "$rootfs/tmp/raster/detections.gpkg" ]; then
            echo "  FAIL  raster: no detections.gpkg"; failures=$((failures + 1))
        fi
    fi
    if run 0 dummy-job "$opt/bin/mgpr" dummy_dataset_count=8 output=none run_dir=/tmp/dummy &&
        [ ! -s "$rootfs/tmp/dummy/summary.json" ]; then
        echo "  FAIL  dummy-job: no summary.json"; failures=$((failures + 1))
    fi
    grep -E 'Prediction completed' "$rootfs/tmp/dummy-job.log" | sed 's/^/          /'

    # The negative control: without one bundled library mgpr must not start at all.
    hidden="$rootfs$opt/lib/libgomp.so.1"
    mv "$hidden" "$hidden.hidden"
    run fail without-libgomp "$opt/bin/mgpr" --version &&
        expect_in without-libgomp 'libgomp\.so\.1: cannot open shared object file'
    mv "$hidden.hidden" "$hidden"
    exit $((failures > 0))
fi

# ---- the outer part, on the host.
[ "$(id -u)" -eq 0 ] || { echo "bundle-check: needs root (chroot, unshare, mount)" >&2; exit 1; }
tarball=${1:-$(ls -t dist/mgpr-*-linux-x86_64.tar.[gx]z 2>/dev/null | head -n1 || true)}
[ -n "$tarball" ] && [ -f "$tarball" ] || { echo "bundle-check: no bundle; run scripts/bundle.sh first or name the .tar.gz" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mgpr-bundle-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/root
mkdir -p "$rootfs/opt"
tar -C "$rootfs/opt" -xf "$tarball"
name=$(ls "$rootfs/opt")
bundle=$rootfs/opt/$name
[ "$(echo "$name" | wc -l)" = 1 ] && [ -x "$bundle/bin/mgpr" ] || { echo "bundle-check: $tarball holds no single mgpr-*/bin/mgpr" >&2; exit 1; }

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "bundle-check: $tarball: $(mib "$(stat -c %s "$tarball")") compressed, $(mib "$(du -sb "$bundle" | cut -f1)") unpacked," \
    "$(ls "$bundle/lib" | wc -l) libraries"

# ---- (a) ldd, outside any chroot: a library missing from the bundle shows as resolved from
# the system (or not found) and fails.
echo "bundle-check: (a) ldd of every binary and library, LD_LIBRARY_PATH unset"
failures=0
for file in "$bundle"/bin/* "$bundle"/lib/*; do
    short=${file#"$bundle"/}
    inside=0 system=() bad=()
    if ! output=$(env -u LD_LIBRARY_PATH -u LD_PRELOAD ldd "$file" 2>&1); then
        bad+=("ldd failed: $output")
    fi
    while read -r soname arrow path _; do
        [ "$arrow" = "=>" ] || continue # the vdso, the loader itself
        if [ "$path" = "not" ]; then bad+=("$soname not found"); continue; fi
        real=$(readlink -f "$path")
        if [[ "$real" == "$bundle/lib/"* ]]; then inside=$((inside + 1))
        elif [[ "$soname" =~ $glibc_re ]]; then system+=("$soname")
        else bad+=("$soname from $real, outside the bundle and not one the system provides")
        fi
    done <<<"$output"
    expected='$ORIGIN'; [[ "$short" == bin/* ]] && expected='$ORIGIN/../lib'
    runpath=$(readelf -d "$file" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
    [ "$runpath" = "$expected" ] || bad+=("RUNPATH is '$runpath', not '$expected'")
    if ((${#bad[@]})); then
        failures=$((failures + 1))
        printf '  FAIL  %s: %s\n' "$short" "$(IFS=';'; echo "${bad[*]}")"
    elif [[ "$short" == bin/* ]] || [ -n "${BUNDLE_CHECK_VERBOSE:-}" ]; then
        echo "  ok    $short: $inside from the bundle; from the system: ${system[*]:-none}"
    fi
done
((failures)) || echo "  ok    every library in lib/ resolves inside the bundle or to a system library manylinux_2_28 allows (BUNDLE_CHECK_VERBOSE=1 lists each)"

# ---- (b) the chroot with those system libraries alone.
echo "bundle-check: (b) the binaries in a chroot holding only glibc, libstdc++, libgcc_s, libz, libexpat and the bundle"
mkdir -p "$rootfs/lib/x86_64-linux-gnu" "$rootfs/lib64" "$rootfs/dev" "$rootfs/proc" "$rootfs/tmp" "$rootfs/etc"
chmod 1777 "$rootfs/tmp"
for file in /lib/x86_64-linux-gnu/*.so*; do
    [[ "$(basename "$file")" =~ $glibc_re ]] && cp -L "$file" "$rootfs/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$rootfs/lib64/"
echo "  the root file system: $(cd "$rootfs" && find . -path ./opt -prune -o -type f -print | sort | tr '\n' ' ')"
inside=0
unshare --mount --propagation private --pid --fork --mount-proc="$rootfs/proc" \
    bash "$script" --inside "$rootfs" "$name" || inside=$?

if ((failures || inside)); then
    echo "bundle-check: FAILED" >&2
    exit 1
fi
echo "bundle-check: the bundle is self-contained"
