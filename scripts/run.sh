#!/usr/bin/env bash
# The main job: installs what is missing, builds mgpr (release) and runs it on its
# built-in dummy data. Any key=value given here is passed on, e.g.
#   scripts/run.sh dummy_dataset_count=2000
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
swift build -c release --product mgpr-test-image >&2
exec .build/release/mgpr "$@"
