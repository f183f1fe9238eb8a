"""Loader throughput: mgpr (model=none) against the Python stack reading the same tiles.

For each image size (default 8192 px; SIZES="8192 16384" to add more), generates a
3-band Byte DEFLATE GeoTIFF with mgpr-test-image, warms the page cache, then for 1 and
2 reader threads measures in one run, turn by turn, REPEATS times (median kept):
  mgpr        mgpr model=none (its summary.json): tiles as [0,1] floats in batches of 16,
              over the whole run, and in steady state once its batch pool is warm
              (from metrics.csv; meaningful when the image has more batches than the pool);
  py-batches  the seed's data path without torch: each thread (a DataLoader worker) reads
              its batches of 16 tiles with rasterio, scales to float32 [0,1] and stacks
              them into a new batch array (what collate does);
  py-tiles    rasterio reading each tile and scaling it to float32, no batching;
  py-raw      rasterio reading each tile's bytes only: GDAL's own decode bound.
Ratios are mgpr's tiles/s over each. Run: bench/loader.sh
"""
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import rasterio
from rasterio.windows import Window

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MGPR = os.path.join(ROOT, ".build/release/mgpr")
TEST_IMAGE = os.path.join(ROOT, ".build/release/mgpr-test-image")
SIZES = [int(s) for s in os.environ.get("SIZES", "8192").split()]
TILE, BATCH = 1024, 16
REPEATS = int(os.environ.get("REPEATS", 3))
SCALE = np.float32(1 / 255)


def mgpr(path, workers, run_dir):
    subprocess.run(
        [MGPR, f"image_path={path}", f"tile_size={TILE}", f"batch_size={BATCH}", f"workers={workers}",
         "model=none", "accelerator=cpu", f"run_dir={run_dir}"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(run_dir, "summary.json")) as f:
        s = json.load(f)
    # Steady state: batches read once the buffer pool is warm (the first workers*2+1
    # buffers are new memory whose page faults cost ~0.1 s per 200 MB here).
    with open(os.path.join(run_dir, "rank-0", "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    warm = [r for r in rows if int(r["batch"]) >= workers * 2 + 1]
    steady = sum(int(r["tiles"]) for r in warm) / (sum(float(r["read_s"]) for r in warm) / workers) if warm else 0
    return s["tiles"] / s["elapsed_seconds"], steady


def python(path, size, threads, mode):
    windows = [Window(c, r, TILE, TILE) for r in range(0, size, TILE) for c in range(0, size, TILE)]
    batches = [windows[i:i + BATCH] for i in range(0, len(windows), BATCH)]

    def work(mine):
        with rasterio.open(path) as ds:
            for batch in mine:
                if mode == "batches":
                    np.stack([ds.read((1, 2, 3), window=w).astype(np.float32) * SCALE for w in batch])
                    continue
                for w in batch:
                    data = ds.read((1, 2, 3), window=w)
                    if mode == "tiles":
                        data.astype(np.float32) * SCALE

    start = time.perf_counter()
    pool = [threading.Thread(target=work, args=(batches[i::threads],)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(windows) / (time.perf_counter() - start)


def main():
    modes = ["batches", "tiles", "raw"]
    print(f"median of {REPEATS}; {os.cpu_count()} cores; rasterio {rasterio.__version__}, GDAL {rasterio.__gdal_version__}; "
          f"{TILE} px tiles, batches of {BATCH}; tiles/s (MB/s of stored pixels)")
    print(f"{'image':>6} {'threads':>7} | {'mgpr':>14} {'mgpr steady':>14} | {'py-batches':>14} {'py-tiles':>14} "
          f"{'py-raw':>14} | {'x py-batches':>12} {'x py-tiles':>10} {'x py-raw':>8} | {'steady x py-tiles':>17}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            path = os.path.join(tmp, f"bench-{size}.tif")
            subprocess.run([TEST_IMAGE, f"image_size={size}", f"tile_size={TILE}", f"image_path={path}"],
                           check=True, stderr=subprocess.DEVNULL)
            with open(path, "rb") as f:  # warm the page cache: measure decoding, not the disk
                while f.read(1 << 24):
                    pass
            for threads in (1, 2):
                runs = {k: [] for k in ["mgpr", "steady"] + modes}
                for i in range(REPEATS):
                    whole, steady = mgpr(path, threads, os.path.join(tmp, f"run-{size}-{threads}-{i}"))
                    runs["mgpr"].append(whole)
                    runs["steady"].append(steady)
                    for mode in modes:
                        runs[mode].append(python(path, size, threads, mode))
                med = {k: statistics.median(v) for k, v in runs.items()}
                mb = TILE * TILE * 3 / 1e6

                def cell(k):
                    return f"{med[k]:7.1f} ({med[k] * mb:4.0f})"

                print(f"{size:>6} {threads:>7} | {cell('mgpr')} {cell('steady')} | {cell('batches')} {cell('tiles')} "
                      f"{cell('raw')} | {med['mgpr'] / med['batches']:>12.2f} {med['mgpr'] / med['tiles']:>10.2f} "
                      f"{med['mgpr'] / med['raw']:>8.2f} | {med['steady'] / med['tiles']:>17.2f}")


if __name__ == "__main__":
    sys.exit(main())
