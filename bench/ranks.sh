#!/usr/bin/env bash
# Ranks sharing a job's tiles, share=static against share=claim (not a test): 1, 8, 32
# and 64 mgpr processes launched torchrun-style on this machine, model=none, delayed
# dummy tiles, every rank alike and then one four times slower. RANKS="1 8" PER_RANK=400
# DELAY=0.01 BATCH=16 RUN_ROOT=/shared/fs to vary (RUN_ROOT: where the run directories go).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
exec /usr/bin/python3 bench/ranks_bench.py
