#!/usr/bin/env bash
# Installs oneDNN 3.2.0 (C library, OpenMP threading) and its headers under /usr/local,
# from Intel's PyPI wheels: the one oneDNN 3 build that needs no more than glibc 2.27 and
# no Intel runtime, so the Debian 12 build and the portable wheel (scripts/wheel.sh) use
# the same library. Debian 12 itself has only oneDNN 2.6, whose API differs.
# Sourced by scripts/setup.sh; safe to run again (it does nothing when 3.2.0 is there).
#
#   /usr/local/include/oneapi/dnnl/*.h                 headers (onednn-devel-cpu-gomp)
#   /usr/local/lib/x86_64-linux-gnu/libdnnl.so{,.3}    the library (onednn-cpu-gomp)
#   /usr/local/lib/x86_64-linux-gnu/pkgconfig/dnnl.pc  how to build with it (Package.swift)
#
# The loader searches that lib folder (ldconfig) ahead of Debian's own libdnnl 2.6 if
# that is installed; the .pc file puts it ahead for the linker. OpenMP is the system's
# libgomp.
# The wheels are kept in the download cache (MGPR_DOWNLOAD_CACHE) and checked by hash.

MGPR_ONEDNN_VERSION=3.2.0
MGPR_ONEDNN_PREFIX=${MGPR_ONEDNN_PREFIX:-/usr/local}
MGPR_DOWNLOAD_CACHE=${MGPR_DOWNLOAD_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/mgpr/downloads}

# name==version, then the wheel's sha256.
mgpr_onednn_wheels=(
    "onednn-cpu-gomp==2023.2.0" 2f22a54d6a890ed14bfa185d42a4be65d8b5b1df85dc1f0f3a9abe31620416fb
    "onednn-devel-cpu-gomp==2023.2.0" 9763c69e8c907e119056bd52ad918ca84ac9ba939d130a99dfa95ccca3e5e284
)

# Prints the path of a cached wheel, downloading it first if needed. $1 name==version,
# $2 sha256, then pip download's options that choose among its files (--platform ...).
mgpr_cached_wheel() {
    local requirement=$1 sha=$2 dir="$MGPR_DOWNLOAD_CACHE/wheels" file
    shift 2
    mkdir -p "$dir"
    file=$(ls "$dir"/"$(echo "${requirement%%==*}" | tr - _)"-"${requirement##*==}"-*.whl 2>/dev/null | head -1 || true)
    if [ -z "$file" ]; then
        echo "setup: downloading $requirement from PyPI" >&2
        python3 -m pip download --quiet --no-deps --only-binary=:all: "$@" --dest "$dir" "$requirement" >&2
        file=$(ls "$dir"/"$(echo "${requirement%%==*}" | tr - _)"-"${requirement##*==}"-*.whl | head -1)
    fi
    if [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$sha" ]; then
        echo "setup: $file does not have the expected sha256 $sha; delete it to download again" >&2
        return 1
    fi
    echo "$file"
}

mgpr_install_onednn() {
    local include="$MGPR_ONEDNN_PREFIX/include/oneapi/dnnl" lib="$MGPR_ONEDNN_PREFIX/lib/x86_64-linux-gnu"
    if grep -qs "DNNL_VERSION_MINOR 2$" "$include/dnnl_version.h" && grep -qs "DNNL_VERSION_MAJOR 3$" "$include/dnnl_version.h" \
        && [ -e "$lib/libdnnl.so.3" ] && [ -e "$lib/pkgconfig/dnnl.pc" ]; then
        return 0
    fi
    command -v unzip >/dev/null || { echo "setup: oneDNN needs unzip (apt-get install unzip)" >&2; return 1; }
    local runtime devel stage
    runtime=$(mgpr_cached_wheel "${mgpr_onednn_wheels[0]}" "${mgpr_onednn_wheels[1]}") || return 1
    devel=$(mgpr_cached_wheel "${mgpr_onednn_wheels[2]}" "${mgpr_onednn_wheels[3]}") || return 1
    stage=$(mktemp -d "${TMPDIR:-/tmp}/mgpr-onednn.XXXXXX")
    unzip -q "$runtime" '*/data/lib/libdnnl.so.3' '*/data/share/doc/onednn/*' -d "$stage"
    unzip -q "$devel" '*/data/include/oneapi/*' -d "$stage"
    local SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing oneDNN $MGPR_ONEDNN_VERSION under $MGPR_ONEDNN_PREFIX" >&2
    $SUDO mkdir -p "$include" "$lib" "$MGPR_ONEDNN_PREFIX/share/doc/onednn"
    $SUDO install -m 644 "$stage"/*/data/include/oneapi/dnnl/* "$include/"
    $SUDO install -m 644 "$stage"/*/data/lib/libdnnl.so.3 "$lib/libdnnl.so.3"
    $SUDO ln -sf libdnnl.so.3 "$lib/libdnnl.so"
    $SUDO mkdir -p "$lib/pkgconfig"
    printf '%s\n' "prefix=$MGPR_ONEDNN_PREFIX" "libdir=$lib" "includedir=$MGPR_ONEDNN_PREFIX/include" "" \
        "Name: dnnl" "Description: oneDNN $MGPR_ONEDNN_VERSION (PyPI onednn-cpu-gomp, installed by mgpr's setup)" \
        "Version: $MGPR_ONEDNN_VERSION" 'Libs: -L${libdir} -ldnnl' 'Cflags: -I${includedir}' \
        | $SUDO tee "$lib/pkgconfig/dnnl.pc" >/dev/null
    $SUDO install -m 644 "$stage"/*/data/share/doc/onednn/* "$MGPR_ONEDNN_PREFIX/share/doc/onednn/"
    $SUDO ldconfig
    rm -rf "$stage"
}
