"""Ranks sharing a job's tiles: share=static against share=claim (not a test).

For each rank count (RANKS, default "1 8 32 64"), launches that many mgpr processes at
once, torchrun-style (RANK, WORLD_SIZE, TORCHELASTIC_RUN_ID), with model=none and dummy
tiles that take DELAY seconds each to read (one reader per rank, so a rank reads
1 / DELAY tiles/s), PER_RANK tiles per rank in all. Twice per mode: every rank alike,
then rank 1 four times slower (DELAY x 4). From the ranks' own statuses:
  span        seconds from the first rank's start to the job's last tile
  ideal       all tiles over the ranks' summed speed (the best any sharing can do)
  span/ideal  1.00 is perfect
  idle max    the longest any rank waited at the end, its work done, for the others
  ops/tile    file-system operations on the claims folder per tile (share=claim)
and the wall time of the whole launch (process start-up included). Run: bench/ranks.sh
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MGPR = os.path.join(ROOT, ".build/release/mgpr")
RANKS = [int(r) for r in os.environ.get("RANKS", "1 8 32 64").split()]
PER_RANK = int(os.environ.get("PER_RANK", 400))
DELAY = float(os.environ.get("DELAY", 0.01))
BATCH = int(os.environ.get("BATCH", 16))
SLOWDOWN = 4


def launch(ranks, share, slowed, run_dir, launch_id):
    tiles = PER_RANK * ranks
    processes = []
    start = time.time()
    for rank in range(ranks):
        delay = DELAY * (SLOWDOWN if slowed and rank == 1 else 1)
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(ranks), LOCAL_RANK=str(rank), TORCHELASTIC_RUN_ID=launch_id)
        args = [MGPR, "model=none", f"dummy_dataset_count={tiles}", f"dummy_dataset_delay={delay}", f"batch_size={BATCH}",
                "workers=1", "tile_size=16", "output=none", f"share={share}", f"run_dir={run_dir}", "gather_timeout=120"]
        log = open(os.path.join(os.path.dirname(run_dir), f"{launch_id}-{rank}.log"), "w")
        processes.append(subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT))
    codes = [p.wait() for p in processes]
    wall = time.time() - start
    if any(codes):
        sys.exit(f"{launch_id}: exit statuses {codes}; logs beside {run_dir}")
    summaries = [json.load(open(f))["summary"] for f in glob.glob(os.path.join(run_dir, "rank-*", "status.json"))]
    done = sum(s["tiles"] for s in summaries)
    if done != tiles:
        sys.exit(f"{launch_id}: {done} tiles done of {tiles}")
    end = max(s["last_tile_at"] for s in summaries)
    span = end - min(s["started_at"] for s in summaries)
    speeds = [1 / (DELAY * (SLOWDOWN if slowed and r == 1 else 1)) for r in range(ranks)]
    ideal = tiles / sum(speeds)
    idle = max(end - s["last_tile_at"] for s in summaries)
    operations = sum((s.get("claims") or {}).get("operations", 0) for s in summaries)
    return dict(wall=wall, span=span, ideal=ideal, idle=idle, ops=operations / tiles)


def main():
    if not os.path.exists(MGPR):
        sys.exit(f"{MGPR} is missing: bench/ranks.sh builds it")
    scratch = tempfile.mkdtemp(prefix="mgpr-ranks-", dir=os.environ.get("RUN_ROOT"))
    print(f"# {PER_RANK} tiles per rank, {DELAY} s each ({1 / DELAY:g} tiles/s per rank), batches of {BATCH}; "
          f"'slowed': rank 1 {SLOWDOWN}x slower; run directories under {scratch}")
    print(f"{'ranks':>5} {'ranks alike?':>12} {'share':>6} {'wall s':>7} {'span s':>7} {'ideal s':>7} "
          f"{'span/ideal':>10} {'idle max s':>10} {'ops/tile':>8}")
    for ranks in RANKS:
        for slowed in (False, True):
            for share in ("static", "claim"):
                launch_id = f"r{ranks}-{'slowed' if slowed else 'alike'}-{share}"
                run_dir = os.path.join(scratch, launch_id)
                r = launch(ranks, share, slowed, run_dir, launch_id)
                print(f"{ranks:>5} {'slowed' if slowed else 'alike':>12} {share:>6} {r['wall']:>7.2f} {r['span']:>7.2f} "
                      f"{r['ideal']:>7.2f} {r['span'] / r['ideal']:>10.2f} {r['idle']:>10.2f} {r['ops']:>8.3f}", flush=True)
                shutil.rmtree(run_dir)
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
