"""Peak memory of a whole segmentation run (tiles, parts, gather into the COGs) as the
raster grows; see segmentation-memory.sh."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import rasterio
from rasterio.transform import from_origin

sides = [int(s) for s in os.environ.get("SIDES", "3000 30000").split()]
data = int(os.environ.get("DATA", "512"))
tile = int(os.environ.get("TILE", "256"))
overlap = int(os.environ.get("OVERLAP", "32"))
probabilities = os.environ.get("PROBABILITIES", "true")
mgpr = os.path.abspath(".build/release/mgpr")
crop = os.path.abspath(".fixtures/OSBS_029.tif")

with rasterio.open(crop) as src:
    pixels = src.read()
    pixels[pixels == 0] = 1  # 0 is the L raster's nodata


def make(path, side):
    """A sparse tiled GeoTIFF: the NEON crop repeated along an L of `data` px, nodata 0 elsewhere."""
    profile = dict(driver="GTiff", width=side, height=side, count=3, dtype="uint8", nodata=0, tiled=True,
                   blockxsize=256, blockysize=256, compress="deflate", sparse_ok=True, crs="EPSG:32617",
                   transform=from_origin(400000, 3300000, 0.1, 0.1))
    with rasterio.open(path, "w", **profile) as dst:
        for y in range(0, side, 400):
            for x in range(0, side, 400):
                if y >= data and x >= data:
                    continue
                h, w = min(400, side - y), min(400, side - x)
                dst.write(pixels[:, :h, :w], window=((y, y + h), (x, x + w)))


work = tempfile.mkdtemp()
try:
    print(f"side px | tiles run | tiles skipped | peak RSS MB | run s | output MB", flush=True)
    for side in sides:
        raster = os.path.join(work, f"l{side}.tif")
        make(raster, side)
        run_dir = os.path.join(work, f"run{side}")
        output = os.path.join(work, f"classes{side}.tif")
        start = time.time()
        child = subprocess.Popen([mgpr, "model=unet", f"image_path={raster}", f"tile_size={tile}", f"overlap={overlap}",
                                  "skip_empty=true", "stitch=blend", f"probabilities={probabilities}", "precision=32", "batch_size=4",
                                  f"output={output}", f"run_dir={run_dir}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            sys.exit(f"mgpr failed on the {side} px raster (exit {child.returncode})")
        seconds = time.time() - start
        peak = usage.ru_maxrss
        summary = json.load(open(os.path.join(run_dir, "summary.json")))
        written = [p for p in [output, output.replace(".tif", ".probabilities.tif")] if os.path.exists(p)]
        size = sum(os.path.getsize(p) for p in written)
        print(f"{side} | {summary.get('tiles')} | {summary.get('skipped_tiles', 0)} | "
              f"{peak / 1024:.0f} | {seconds:.0f} | {size / 1e6:.1f}", flush=True)
        shutil.rmtree(run_dir)
        for p in [raster] + written:
            os.remove(p)
finally:
    shutil.rmtree(work, ignore_errors=True)
