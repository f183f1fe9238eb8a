#!/usr/bin/env bash
# The test command: installs what is missing, fetches the real imagery and makes the
# torchvision references, runs every Swift test, then the SLURM tests on a real local
# cluster (scripts/slurm-tests.sh; they need root to install and start SLURM).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
scripts/fixtures.sh
swift build --build-tests
swift test --skip-build "$@"
if [ "$(id -u)" -eq 0 ]; then
    scripts/slurm-tests.sh
else
    echo "SLURM tests skipped: they install and start a local SLURM cluster, which needs root" >&2
fi
