#!/usr/bin/env bash
# The test command: installs what is missing, fetches the real imagery and makes the
# torchvision references, runs every Swift test as on an AVX2-only CPU and again
# natively where the CPU has more, then every benchmark once at a tiny size
# (scripts/bench-smoke.sh), the SLURM tests on a real local cluster
# (scripts/slurm-tests.sh), the pip-installable wheel, its version needs read and it
# installed and run on Debian bullseye (scripts/wheel-check.sh), and the tarball made
# from it, run in a chroot that holds only glibc and the few libraries it takes from the
# system (scripts/bundle-check.sh); the last four need root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# Headless Chromium renders the run report in the tests, as a browser shows it; DeepForest's
# own evaluate_boxes scores mgpr's CSV with what Debian has of its imports.
MGPR_APT_PACKAGES=(chromium python3-pandas python3-scipy python3-pyproj python3-xmltodict python3-pil python3-yaml)
source scripts/setup.sh
scripts/fixtures.sh
swift build --build-tests

# Machines of one kind differ in CPU (AVX2 only; AVX-512; AMX and AVX512-BF16). oneDNN,
# and mgpr's own choice of bf16, honour DNNL_MAX_CPU_ISA, so this machine first runs
# the whole suite as the plainest of them would.
echo "tests: the whole suite as on an AVX2-only CPU (DNNL_MAX_CPU_ISA=AVX2)" >&2
DNNL_MAX_CPU_ISA=AVX2 swift test --skip-build "$@"
if grep -qw avx512f /proc/cpuinfo; then
    echo "tests: again with this CPU's own instruction set ($(grep -o -w -E 'amx_bf16|avx512_bf16|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' '))" >&2
    swift test --skip-build "$@"
fi

if [ "$(id -u)" -eq 0 ]; then
    scripts/bench-smoke.sh
    scripts/slurm-tests.sh
    wheel=$(scripts/wheel.sh)
    scripts/wheel-check.sh "$wheel"
    scripts/bundle-check.sh "$(scripts/bundle.sh dist "$wheel")"
else
    echo "SLURM tests, benchmark smoke runs and the wheel and bundle checks skipped: they install packages, start SLURM and chroot, which needs root" >&2
fi
