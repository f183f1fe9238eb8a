#!/usr/bin/env bash
# The test command: installs what is missing, fetches the real imagery, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
scripts/fixtures.sh
swift build --build-tests
swift test --skip-build "$@"
