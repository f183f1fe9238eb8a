#!/usr/bin/env bash
# Makes dist/mgpr-<version>-linux-x86_64.tar.gz, for machines without Python, from the
# same files as the wheel (scripts/wheel.sh, which it runs unless given one):
#
#   mgpr-<version>-linux-x86_64/
#     bin/mgpr                the release binary: Swift's runtime and libstdc++ linked in,
#                             RUNPATH $ORIGIN/../lib
#     bin/mgpr-test-image     a link to mgpr, which answers to the name it is called by
#     lib/                    GDAL and what it needs, oneDNN, libgomp; each RUNPATH $ORIGIN
#     share/gdal, share/proj  GDAL's and PROJ's data, found by mgpr relative to bin/
#     share/licenses/         the licence of each part (NOTICE.md says which is which)
#
# Like the wheel it needs glibc 2.28 or newer and takes from the system only what
# manylinux_2_28 allows a wheel to: glibc itself (one unit with the loader the kernel
# starts), libstdc++ (GLIBCXX_3.4.22: gcc 6 or newer), libgcc_s, libz and libexpat,
# which every RHEL 8+, Ubuntu 20.04+ and Debian 10+ system has.
#
# Usage: scripts/bundle.sh [OUTDIR] [WHEEL]   (default dist/; prints the tarball's path;
#        run scripts/bundle-check.sh after)
# Environment: MGPR_BUNDLE_XZ=1  also write the .tar.xz (xz -9), which is smaller
set -euo pipefail
cd "$(dirname "$0")/.."

outdir=${1:-dist}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
wheel=${2:-$(scripts/wheel.sh "$outdir")}
version=$(basename "$wheel" | cut -d- -f2)
name="mgpr-$version-linux-x86_64"

stage=$(mktemp -d "${TMPDIR:-/tmp}/mgpr-bundle.XXXXXX")
trap 'rm -rf "$stage"' EXIT
unzip -q "$wheel" 'mgpr/bin/*' 'mgpr/lib/*' 'mgpr/share/*' -d "$stage"
mv "$stage/mgpr" "$stage/$name"
dest="$stage/$name"
ln -s mgpr "$dest/bin/mgpr-test-image"

tarball="$outdir/$name.tar.gz"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@"$(git log -1 --format=%ct 2>/dev/null || date +%s)" \
    -cf - "$name" | gzip -9 -n >"$tarball"
if [ "${MGPR_BUNDLE_XZ:-0}" = 1 ]; then
    tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner -cf - "$name" | xz -9 -T1 >"$outdir/$name.tar.xz"
fi

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "bundle: $tarball" >&2
echo "bundle: $(mib "$(stat -c %s "$tarball")") compressed (gzip -9), $(mib "$(du -sb "$dest" | cut -f1)") unpacked;" \
    "bin $(mib "$(du -sb "$dest/bin" | cut -f1)"), lib $(mib "$(du -sb "$dest/lib" | cut -f1)") in $(ls "$dest/lib" | wc -l) libraries," \
    "share $(mib "$(du -sb "$dest/share" | cut -f1)")" >&2
if [ "${MGPR_BUNDLE_XZ:-0}" = 1 ]; then
    echo "bundle: $outdir/$name.tar.xz $(mib "$(stat -c %s "$outdir/$name.tar.xz")") (xz -9)" >&2
fi
echo "$tarball"
