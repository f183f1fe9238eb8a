#!/usr/bin/env bash
# Installs what mgpr needs to build and test on Debian 12, skipping what is there.
# Sourced by scripts/run.sh and scripts/test.sh; safe to run again.
set -euo pipefail

# Debian packages: GDAL to build and run; gdal-bin and python3-rasterio to cross-check
# rasters in the tests; patchelf for scripts/wheel.sh (the portable wheel);
# unzip for oneDNN, which comes from PyPI (scripts/onednn.sh).
# A caller may name other packages instead (the tests add a browser).
if [ -z "${MGPR_APT_PACKAGES+x}" ]; then
    MGPR_APT_PACKAGES=(libgdal-dev unzip gdal-bin python3-rasterio python3-numpy python3-pip python3-torch python3-torchvision time patchelf)
fi

missing=()
for package in "${MGPR_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

source "$(dirname "${BASH_SOURCE[0]}")/onednn.sh"
mgpr_install_onednn

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then export PATH="/opt/swift/usr/bin:$PATH"
    elif [ -x /opt/swift/bin/swift ]; then export PATH="/opt/swift/bin:$PATH"
    else echo "setup: no Swift toolchain found (need Swift 6.1 or later on PATH)" >&2; exit 1
    fi
fi
