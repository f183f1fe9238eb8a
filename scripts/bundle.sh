#!/usr/bin/env bash
# Makes a relocatable binary bundle, dist/mgpr-<version>-linux-x86_64.tar.gz:
#
#   mgpr-<version>-linux-x86_64/
#     bin/mgpr, bin/mgpr-test-image   release builds, Swift runtime linked in
#                                     (--static-swift-stdlib), stripped, RUNPATH $ORIGIN/../lib
#     lib/                            every shared library they load except glibc's own
#                                     (GDAL and its dependencies, oneDNN, libgomp, libstdc++,
#                                     libgcc_s, ...), each with RUNPATH $ORIGIN
#     share/gdal/                     GDAL's data files (Debian's gdal-data)
#     share/proj/                     proj.db and PROJ's small data files (proj-data), without
#                                     the datum grids unless MGPR_BUNDLE_PROJ_GRIDS=1
#     share/doc/<package>/copyright   the licence of each Debian package a library came from
#
# glibc (ld-linux-x86-64, libc, libm, libpthread, libdl, librt, libresolv, libutil, libanl,
# libmvec, libnsl.so.1, libnss_*, ...) is left to the target machine: those files are one
# unit with the dynamic loader (they call each other through GLIBC_PRIVATE symbols), the
# kernel starts the system's /lib64/ld-linux-x86-64.so.2 named in the binary, and that
# loader must be paired with the system's libc. The target needs glibc at least as new as
# the newest GLIBC_x.y symbol version the bundle uses (printed at the end).
#
# Usage: scripts/bundle.sh [OUTDIR]     (default dist/; run scripts/bundle-check.sh after)
# Environment: MGPR_BUNDLE_SCRATCH  swift build's --scratch-path (default .build-bundle: the
#                                   static release build must not churn run.sh's .build)
#              MGPR_BUNDLE_VERSION  overrides the version (default: what `mgpr --version` says,
#                                   else `git describe --tags --always`)
#              MGPR_BUNDLE_PROJ_GRIDS=1  also bundle proj-data's datum grids (~14 MB)
#              MGPR_BUNDLE_XZ=1     also write the .tar.xz (xz -9), which is much smaller
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Only what bundling needs (setup.sh's default list is the test suite's).
MGPR_APT_PACKAGES=(libgdal-dev unzip python3-pip gdal-data proj-data patchelf binutils xz-utils)
source scripts/setup.sh

scratch=${MGPR_BUNDLE_SCRATCH:-.build-bundle}
outdir=${1:-dist}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

build=(swift build -c release --static-swift-stdlib --scratch-path "$scratch")
echo "bundle: ${build[*]}" >&2
"${build[@]}" --product mgpr >&2
"${build[@]}" --product mgpr-test-image >&2
bin_path=$("${build[@]}" --show-bin-path)
binaries=("$bin_path/mgpr" "$bin_path/mgpr-test-image")

version=${MGPR_BUNDLE_VERSION:-}
if [ -z "$version" ]; then
    # `mgpr --version` prints "mgpr 0.1.0" (Main.version in Sources/MGPRCommands/Entry.swift).
    version=$("$bin_path/mgpr" --version 2>/dev/null | awk 'NR == 1 { print $2 }') || true
fi
if [ -z "$version" ]; then version=$(git describe --tags --always 2>/dev/null || echo unknown); fi
name="mgpr-$version-linux-x86_64"

# The glibc family, by soname: never bundled (see the top of this file).
glibc_re='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libmvec\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libresolv\.so\.2|libutil\.so\.1|libanl\.so\.1|libnsl\.so\.1|libBrokenLocale\.so\.1|libthread_db\.so\.1|libc_malloc_debug\.so\.0|libnss_(files|dns|compat|hesiod|db)\.so\.2)$'

stage=$(mktemp -d "${TMPDIR:-/tmp}/mgpr-bundle.XXXXXX")
trap 'rm -rf "$stage"' EXIT
dest="$stage/$name"
mkdir -p "$dest/bin" "$dest/lib" "$dest/share/gdal" "$dest/share/proj" "$dest/share/doc"

for binary in "${binaries[@]}"; do
    install -m 755 "$binary" "$dest/bin/"
    strip "$dest/bin/$(basename "$binary")"
done

# ldd lists the whole closure (every library's own dependencies too) in one pass. Each is
# copied under the soname the loader looks for, dereferencing the symlink.
declare -A seen=()
for binary in "${binaries[@]}"; do
    while read -r soname arrow path _; do
        [ "$arrow" = "=>" ] || continue
        if [ "$path" = "not" ]; then echo "bundle: $binary needs $soname, which is not found" >&2; exit 1; fi
        [[ "$soname" =~ $glibc_re ]] && continue
        [ -n "${seen[$soname]:-}" ] && continue
        seen[$soname]=$path
        install -m 644 "$(readlink -f "$path")" "$dest/lib/$soname"
    done < <(env -u LD_LIBRARY_PATH -u LD_PRELOAD ldd "$binary")
done

# Debian's libraries are stripped already; strip --strip-unneeded drops what is left
# (symbol tables some ship) and never what the loader needs. Then the search paths:
# RUNPATH is per object (not inherited), so every library gets its own $ORIGIN.
for lib in "$dest"/lib/*; do
    strip --strip-unneeded "$lib"
    patchelf --set-rpath '$ORIGIN' "$lib"
done
for binary in "$dest"/bin/*; do patchelf --set-rpath '$ORIGIN/../lib' "$binary"; done

# Licences: the copyright file of the Debian package each library came from.
declare -A packages=()
owner() { # the package of a file, under merged /usr known by its /lib or its /usr/lib name
    local real; real=$(readlink -f "$1")
    { dpkg -S "$1" || dpkg -S "$real" || dpkg -S "${real#/usr}"; } 2>/dev/null | head -n1 | cut -d: -f1
}
for soname in "${!seen[@]}"; do
    package=$(owner "${seen[$soname]}") || true
    if [ -n "$package" ]; then packages[$package]=1; else echo "bundle: no package owns ${seen[$soname]}" >&2; fi
done
for package in "${!packages[@]}" gdal-data proj-data; do
    if [ -f "/usr/share/doc/$package/copyright" ]; then
        mkdir -p "$dest/share/doc/$package"
        cp "/usr/share/doc/$package/copyright" "$dest/share/doc/$package/"
    fi
done

# GDAL's data; PROJ finds share/proj by itself (relative to lib/libproj.so), GDAL needs
# GDAL_DATA (see scripts/bundle-check.sh).
cp -a /usr/share/gdal/. "$dest/share/gdal/"
for file in /usr/share/proj/*; do
    case "$file" in
        *.gsb | *.gtx | *.tif | *.byn | *.gri)
            [ "${MGPR_BUNDLE_PROJ_GRIDS:-0}" = 1 ] || continue ;;
    esac
    cp -a "$file" "$dest/share/proj/"
done
[ -f "$dest/share/proj/proj.db" ] || { echo "bundle: no /usr/share/proj/proj.db (package proj-data)" >&2; exit 1; }

# The newest glibc symbol version anything in the bundle uses: the target needs at least that.
glibc_needed=$(for f in "$dest"/bin/* "$dest"/lib/*; do objdump -T "$f"; done 2>/dev/null \
    | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u -V | tail -n1)

tarball="$outdir/$name.tar.gz"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@"$(git log -1 --format=%ct 2>/dev/null || date +%s)" \
    -cf - "$name" | gzip -9 -n >"$tarball"
if [ "${MGPR_BUNDLE_XZ:-0}" = 1 ]; then
    tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner -cf - "$name" | xz -9 -T1 >"$outdir/$name.tar.xz"
fi

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
unpacked=$(du -sb "$dest" | cut -f1)
echo "bundle: $tarball" >&2
echo "bundle: $(mib "$(stat -c %s "$tarball")") compressed (gzip -9), $(mib "$unpacked") unpacked;" \
    "bin $(mib "$(du -sb "$dest/bin" | cut -f1)"), lib $(mib "$(du -sb "$dest/lib" | cut -f1)") in ${#seen[@]} libraries," \
    "share $(mib "$(du -sb "$dest/share" | cut -f1)")" >&2
if [ "${MGPR_BUNDLE_XZ:-0}" = 1 ]; then
    echo "bundle: $outdir/$name.tar.xz $(mib "$(stat -c %s "$outdir/$name.tar.xz")") (xz -9)" >&2
fi
echo "bundle: the target machine needs x86-64 Linux with glibc >= ${glibc_needed#GLIBC_}" >&2
echo "$tarball"
