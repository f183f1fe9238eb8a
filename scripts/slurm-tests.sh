#!/usr/bin/env bash
# mgpr on a real SLURM cluster (scripts/slurm-cluster.sh starts one on this machine):
# sbatch and srun with two ranks, requeue, SIGUSR1 before the time limit, a rank killed
# outright. Every check prints PASS or FAIL; the last line counts them. Needs root.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${MGPR_BIN:-$(cd "$root" && swift build --show-bin-path)}"
MGPR="$BIN/mgpr"
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...
    if "${@:2}"; then echo "PASS: $1"; passed=$((passed + 1)); else echo "FAIL: $1"; failed=$((failed + 1)); fi
}
wait_gone() {  # wait_gone JOB SECONDS
    for _ in $(seq 1 $(($2 * 5))); do [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0; sleep 0.2; done
    echo "job $1 still queued after $2 s" >&2; scontrol show job "$1" >&2; return 1
}
wait_state() {  # wait_state JOB STATE SECONDS
    for _ in $(seq 1 $(($3 * 5))); do [ "$(squeue -h -j "$1" -o %T 2>/dev/null)" = "$2" ] && return 0; sleep 0.2; done
    echo "job $1 never reached $2" >&2; return 1
}
wait_lines() {  # wait_lines FILE N SECONDS: until FILE has N lines
    for _ in $(seq 1 $(($3 * 10))); do [ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ] && return 0; sleep 0.1; done
    echo "$1 never reached $2 lines" >&2; return 1
}
tiles_once() {  # tiles_once CSV N: rows for tiles 0..N-1, each exactly once
    [ "$(tail -n +2 "$1" | cut -d, -f1 | sort -n | tr '\n' ' ')" = "$(seq 0 $(($2 - 1)) | tr '\n' ' ')" ]
}
resubmit_now() {  # a requeued job waits 120 s; start it once it is pending
    wait_state "$1" PENDING 60 && sleep 2 && scontrol update JobId="$1" StartTime=now
}
job_span() {  # job_span RUN_DIR: seconds from the first rank's start to the last tile, over every rank's status
    python3 -c '
import glob, json, sys
s = [json.load(open(f))["summary"] for f in glob.glob(sys.argv[1] + "/rank-*/status.json")]
print("%.2f" % (max(x["last_tile_at"] for x in s) - min(x["started_at"] for x in s)))' "$1"
}
within() {  # within A RATIO B: A <= RATIO * B
    python3 -c 'import sys; a, r, b = map(float, sys.argv[1:]); sys.exit(0 if a <= r * b else 1)' "$@"
}
beyond() { ! within "$@"; }
journaled_once() {  # journaled_once RUN_DIR N: the journals list tiles 0..N-1, each exactly once
    [ "$(cat "$1"/rank-*/journal.txt | cut -d' ' -f1 | sort -n | tr '\n' ' ')" = "$(seq 0 $(($2 - 1)) | tr '\n' ' ')" ]
}

"$root/scripts/slurm-cluster.sh" up || { echo "0 passed, 1 failed"; exit 1; }
trap '"$root/scripts/slurm-cluster.sh" down' EXIT
W=$(mktemp -d /tmp/mgpr-slurm.XXXX)
cd "$W" && mkdir -p slurm_logs
cp "$root/job.slurm" .
"$BIN/mgpr-test-image" image_size=256 tile_size=32 image_path="$W/ortho.tif" 2>/dev/null
COMMON=(model=resnet50 image_path="$W/ortho.tif" tile_size=32 batch_size=4 workers=1 cpu_threads=1 precision=32)
SLOW=(model=resnet50 tile_size=32 batch_size=2 workers=1 cpu_threads=1 precision=32 dummy_dataset_count=60 dummy_dataset_delay=0.1)

echo "== sbatch --ntasks-per-node=2 job.slurm"
J=$(MGPR="$MGPR" MGPR_ARGS="${COMMON[*]}" sbatch --parsable --ntasks-per-node=2 --cpus-per-task=1 job.slurm output="$W/sbatch.csv")
wait_gone "$J" 120
check "sbatch: every tile exactly once in the merged results" tiles_once "$W/sbatch.csv" 64
check "sbatch: both ranks started as the seed logs them" grep -q "GLOBAL_RANK: 1, MEMBER: 2/2" "slurm_logs/$J.out"
check "sbatch: the summary names both ranks' devices" grep -q "^Rank 1 CPU 0:" "slurm_logs/$J.out"
check "sbatch: the run directory derives from the job id" test -f "outputs/slurm-$J/rank-1/status.json"

echo "== srun -n 2 mgpr ..."
timeout 120 srun -n 2 "$MGPR" "${COMMON[@]}" output="$W/srun.csv" run_dir="$W/srun" > srun.log 2>&1
check "srun: exit status 0" test $? -eq 0
check "srun: every tile exactly once" tiles_once "$W/srun.csv" 64
check "srun: the same results as sbatch" cmp -s "$W/srun.csv" "$W/sbatch.csv"
check "srun: rank 0 gathered both ranks" grep -q "Gathered 2 of 2 ranks" srun.log

echo "== an uninterrupted reference for the interrupted runs"
timeout 120 srun -n 2 "$MGPR" "${SLOW[@]}" dummy_dataset_delay=0 output="$W/whole.csv" run_dir="$W/whole" > whole.log 2>&1
check "reference run: every tile once" tiles_once "$W/whole.csv" 60

echo "== scontrol requeue mid-run"
J=$(MGPR="$MGPR" MGPR_ARGS="${SLOW[*]}" sbatch --parsable --ntasks-per-node=2 --cpus-per-task=1 job.slurm output="$W/requeued.csv")
wait_lines "outputs/slurm-$J/rank-0/journal.txt" 4 60
scontrol requeue "$J"
resubmit_now "$J"
wait_gone "$J" 180
check "requeue: the job ran again and resumed from the journals" grep -q "Resuming: [1-9][0-9]* of the run's 60 tiles already done" "slurm_logs/$J.out"
check "requeue: results identical to an uninterrupted run" cmp -s "$W/requeued.csv" "$W/whole.csv"

echo "== scancel --signal=USR1 (the warning before the time limit)"
J=$(MGPR="$MGPR" MGPR_ARGS="${SLOW[*]}" sbatch --parsable --ntasks-per-node=2 --cpus-per-task=1 job.slurm output="$W/usr1.csv")
wait_lines "outputs/slurm-$J/rank-0/journal.txt" 4 60
scancel --signal=USR1 "$J"
resubmit_now "$J"
wait_gone "$J" 180
check "USR1: ranks stopped gracefully" grep -q "Received SIGUSR1: stopping after the batches in flight" "slurm_logs/$J.out"
check "USR1: rank 0 requeued the job" grep -q "Requeued SLURM job $J" "slurm_logs/$J.out"
check "USR1: results identical to an uninterrupted run" cmp -s "$W/usr1.csv" "$W/whole.csv"

echo "== a rank killed outright, share=static"
start=$(date +%s)
timeout 120 srun -n 2 bash -c '
    if [ "$SLURM_PROCID" = 1 ]; then exec timeout -s KILL 2 "$0" "${@}"; else exec "$0" "${@}" gather_timeout=5; fi
' "$MGPR" "${SLOW[@]}" share=static run_dir="$W/killed" output="$W/killed.csv" > killed.log 2>&1
elapsed=$(( $(date +%s) - start ))
check "killed rank: rank 0 names it" grep -q "mgpr: error: rank 1 did not finish" killed.log
check "killed rank: its tiles are listed as not done" test -s "$W/killed/missing_tiles.txt"
check "killed rank: reported within the timeout, no hang ($elapsed s)" test "$elapsed" -lt 60

echo "== a rank killed outright, share=claim: its chunks are taken over after its lease"
timeout 120 srun -n 2 bash -c '
    if [ "$SLURM_PROCID" = 1 ]; then exec timeout -s KILL 3 "$0" "${@}"; else exec "$0" "${@}"; fi
' "$MGPR" "${SLOW[@]}" claim_lease=3 run_dir="$W/taken" output="$W/taken.csv" > taken.log 2>&1
check "killed rank, claimed: rank 0 took its chunk over" grep -q "Took over chunk [0-9]* from rank 1, whose lease expired" taken.log
check "killed rank, claimed: results identical to an uninterrupted run" cmp -s "$W/taken.csv" "$W/whole.csv"

echo "== a rank killed mid-chunk, then the job requeued: it continues from the journals"
cat > "$W/kill-rank-1.sh" <<EOS
#!/bin/sh
# Rank 1 of the first launch dies 4 s in; the requeued launch runs whole.
if [ "\$SLURM_PROCID" = 1 ] && [ "\${SLURM_RESTART_COUNT:-0}" = 0 ]; then exec timeout -s KILL 4 "$MGPR" "\$@"; fi
exec "$MGPR" "\$@"
EOS
chmod +x "$W/kill-rank-1.sh"
J=$(MGPR="$W/kill-rank-1.sh" MGPR_ARGS="${SLOW[*]}" sbatch --parsable --ntasks-per-node=2 --cpus-per-task=1 job.slurm output="$W/killed-requeued.csv")
wait_lines "outputs/slurm-$J/rank-1/journal.txt" 1 60
sleep 5  # rank 1 is dead by now, its chunk half done; its lease (60 s) has not expired
scontrol requeue "$J"
resubmit_now "$J"
wait_gone "$J" 180
check "killed then requeued: the job resumed from the journals" grep -q "Resuming: [1-9][0-9]* of the run's 60 tiles already done" "slurm_logs/$J.out"
check "killed then requeued: results identical to an uninterrupted run" cmp -s "$W/killed-requeued.csv" "$W/whole.csv"

echo "== srun -n 4 with rank 3 four times slower: claim against static"
# model=none and dummy tiles that take 0.02 s to read (0.08 s on rank 3), one reader each:
# ranks read 50, 50, 50 and 12.5 tiles/s, so 800 tiles ideally take 800 / 162.5 = 4.92 s.
SLOWED=(model=none dummy_dataset_count=800 batch_size=4 workers=1 tile_size=16 output=none)
for share in claim static; do
    timeout 120 srun -n 4 bash -c '
        if [ "$SLURM_PROCID" = 3 ]; then exec "$0" "${@}" dummy_dataset_delay=0.08; else exec "$0" "${@}" dummy_dataset_delay=0.02; fi
    ' "$MGPR" "${SLOWED[@]}" share=$share run_dir="$W/slowed-$share" > "slowed-$share.log" 2>&1
    check "slowed rank, share=$share: exit status 0" test $? -eq 0
    check "slowed rank, share=$share: every tile journaled once" journaled_once "$W/slowed-$share" 800
done
claim_span=$(job_span "$W/slowed-claim"); static_span=$(job_span "$W/slowed-static")
check "slowed rank, share=claim: within 1.3x of the ideal 4.92 s ($claim_span s)" within "$claim_span" 1.3 4.92
check "slowed rank, share=static: not within 1.3x of the ideal ($static_span s)" beyond "$static_span" 1.3 4.92
grep -A5 "^Ranks" slowed-claim.log slowed-static.log

echo "== a job file written by mgpr slurm on this machine, which has no GPU"
mkdir -p "$W/written" && cd "$W/written"
"$MGPR" slurm accelerator=gpu gpus=2 cpus=1 time=00:10:00 "${COMMON[@]}" output="$W/written-gpu.csv" > gpu.sbatch 2> gpu.log
check "mgpr slurm accelerator=gpu gpus=2: written here without a GPU" test $? -eq 0
check "GPU job file: two tasks, two GPUs, accelerator=gpu, this mgpr by its absolute path" \
    grep -qxF "srun $MGPR gpus=1 accelerator=gpu ${COMMON[*]} output=$W/written-gpu.csv" gpu.sbatch
check "GPU job file: its GPUs and tasks per node" grep -qxF "#SBATCH --gpus-per-node=2" gpu.sbatch
check "GPU job file: sbatch accepts it (--test-only)" sbatch --test-only gpu.sbatch
"$MGPR" slurm accelerator=cpu gpus=2 cpus=1 time=00:10:00 "${COMMON[@]}" output="$W/written.csv" > cpu.sbatch 2> cpu.log
cd /
J=$(sbatch --parsable "$W/written/cpu.sbatch")
wait_gone "$J" 120
cd "$W"
check "CPU job file submitted from another folder: every tile once" tiles_once "$W/written.csv" 64
check "CPU job file: its log in the slurm_logs that mgpr slurm made" grep -q "Gathered 2 of 2 ranks" "$W/written/slurm_logs/$J.out"
check "CPU job file: its run directory where it was written" test -f "$W/written/outputs/slurm-$J/rank-1/status.json"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
