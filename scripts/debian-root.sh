#!/usr/bin/env bash
# Prints the path of a Debian root file system made by debootstrap (minbase) with the
# given packages, making it first when it is not in the cache. Two uses:
#   scripts/debian-root.sh bullseye libc6-dev libstdc++-10-dev gcc libgomp1
#       glibc 2.31 and gcc 10 to link against, so that the wheel needs at most
#       glibc 2.28 (scripts/wheel.sh)
#   scripts/debian-root.sh bullseye python3-venv
#       an older system to install the wheel on and run it (scripts/wheel-check.sh)
# Roots are kept in $MGPR_DOWNLOAD_CACHE/roots/SUITE-HASH, HASH of the suite, the package
# list and this script, and reused; a root missing its completion stamp is made again.
# Needs root (debootstrap) and Debian's registry (the mirror apt uses here).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: scripts/debian-root.sh SUITE [PACKAGE ...]" >&2; exit 2; }
suite=$1
shift
packages=$(printf '%s\n' "$@" | sort -u | paste -sd, -)
cache=${MGPR_DOWNLOAD_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/mgpr/downloads}
key=$( (echo "$suite $packages"; cat "$0") | sha256sum | cut -c1-12)
root="$cache/roots/$suite-$key"
if [ -e "$root/.mgpr-complete" ]; then echo "$root"; exit 0; fi

[ "$(id -u)" -eq 0 ] || { echo "debian-root: debootstrap needs root" >&2; exit 1; }
if ! command -v debootstrap >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
# The mirror apt uses on this machine (deb822 .sources or a one-line sources.list).
mirror=$(grep -hoE '^(URIs:[[:space:]]*|deb[[:space:]]+)https?://[^[:space:]]+/debian/?' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1 | grep -oE 'https?://[^[:space:]]+' || true)
mirror=${mirror:-http://deb.debian.org/debian}

rm -rf "$root"
mkdir -p "$(dirname "$root")"
echo "debian-root: debootstrap $suite ($packages) from $mirror" >&2
debootstrap --variant=minbase ${packages:+--include="$packages"} "$suite" "$root" "$mirror" >"$root.log" 2>&1 ||
    { echo "debian-root: debootstrap failed; its log: $root.log" >&2; tail -5 "$root.log" >&2; exit 1; }
# debootstrap leaves absolute symbolic links (usr/lib/x86_64-linux-gnu/libpthread.so ->
# /lib/x86_64-linux-gnu/libpthread.so.0): a linker given --sysroot would follow them to
# this machine's own libraries. Made relative, they stay inside the root.
for folder in "$root/usr/lib" "$root/usr/lib64"; do [ -d "$folder" ] && echo "$folder"; done |
    xargs -I{} find {} -type l -lname '/*' | while read -r link; do
    ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$root$(readlink "$link")")" "$link"
done
rm -f "$root.log"
touch "$root/.mgpr-complete"
echo "$root"
