#!/usr/bin/env bash
# Scaling benchmark (not a test): tiles/s with 1 and 2 devices in one process, and with
# 1 and 2 ranks under srun on a local SLURM cluster, model=none and a delayed dummy
# source (the seed's dummy_dataset_delay), so only coordination overhead separates the
# figures from perfect scaling. Readers scale with the devices (WORKERS per device or
# rank), as DataLoader workers do per rank. Efficiency = speed-up / devices. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product mgpr >&2
MGPR="$(swift build -c release --show-bin-path)/mgpr"
COUNT=${COUNT:-3000}; DELAY=${DELAY:-0.01}; WORKERS=${WORKERS:-4}; REPEATS=${REPEATS:-3}
scripts/slurm-cluster.sh up
trap 'scripts/slurm-cluster.sh down' EXIT
W=$(mktemp -d /tmp/mgpr-scaling.XXXX)
common=(model=none tile_size=64 batch_size=16 dummy_dataset_count=$COUNT dummy_dataset_delay=$DELAY)

rate() {  # rate RUN_DIR: tiles per second of the whole job (merged summary)
    python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['tiles']/s['elapsed_seconds'])" "$1/summary.json"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A result
for i in $(seq 1 "$REPEATS"); do
    "$MGPR" "${common[@]}" gpus=1 workers=$WORKERS run_dir="$W/d1-$i" >/dev/null 2>&1
    result[d1]+="$(rate "$W/d1-$i") "
    "$MGPR" "${common[@]}" gpus=2 workers=$((2 * WORKERS)) run_dir="$W/d2-$i" >/dev/null 2>&1
    result[d2]+="$(rate "$W/d2-$i") "
    srun -n 1 "$MGPR" "${common[@]}" gpus=1 workers=$WORKERS run_dir="$W/r1-$i" >/dev/null 2>&1
    result[r1]+="$(rate "$W/r1-$i") "
    srun -n 2 "$MGPR" "${common[@]}" gpus=1 workers=$WORKERS run_dir="$W/r2-$i" >/dev/null 2>&1
    result[r2]+="$(rate "$W/r2-$i") "
done
m() { echo "${result[$1]}" | tr ' ' '\n' | grep . | median; }
d1=$(m d1); d2=$(m d2); r1=$(m r1); r2=$(m r2)
echo "model=none, $COUNT dummy tiles of 64 px, delay $DELAY s each, $WORKERS readers per device/rank, median of $REPEATS"
printf "%-26s %10s %10s %10s\n" "" "1" "2" "efficiency"
printf "%-26s %10.1f %10.1f %10.3f\n" "devices in one process" "$d1" "$d2" "$(echo "$d2 / $d1 / 2" | bc -l)"
printf "%-26s %10.1f %10.1f %10.3f\n" "ranks under srun" "$r1" "$r2" "$(echo "$r2 / $r1 / 2" | bc -l)"
