"""Faster R-CNN throughput: mgpr against torchvision's model in PyTorch eager, same weights.

1024 px tiles of a generated 4096 px GeoTIFF (SIZE to change), batch 1 and 4, f32 and
bf16, same threads, in one run, turn by turn:
  mgpr     mgpr model=fasterrcnn over the raster; tiles/s = tiles / the devices' busy
           seconds (transform, network, proposals, RoIAlign, post-processing);
  pytorch  torchvision's fasterrcnn_resnet50_fpn with the same state_dict on the same
           tiles (read with rasterio, /255), torch.inference_mode(), a list of B tiles
           per call; bf16 through torch.autocast("cpu", dtype=torch.bfloat16).
Run: bench/fasterrcnn.sh (WEIGHTS=path for your own; default: a seeded state_dict).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import rasterio
import torch
import torchvision
from rasterio.windows import Window

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build/release")
THREADS = int(os.environ.get("THREADS", os.cpu_count()))
SIZE, TILE = int(os.environ.get("SIZE", 4096)), 1024
BATCHES = [int(v) for v in os.environ.get("BATCHES", "1 4").split()]


def mgpr(weights, image, batch, precision, run_dir, model="fasterrcnn", tile=TILE, extra=()):
    """tiles/s of one mgpr run: tiles over the devices' busy seconds (summary.json)."""
    subprocess.run(
        [f"{BIN}/mgpr", f"model={model}", f"weights={weights}", f"image_path={image}", f"tile_size={tile}",
         f"batch_size={batch}", f"precision={precision}", "workers=1", f"cpu_threads={THREADS}", "accelerator=cpu",
         "output=none", f"run_dir={run_dir}", *extra],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(run_dir, "summary.json")) as f:
        s = json.load(f)
    return s["tiles"] / s["busy_seconds"]


def pytorch(model, tiles, batch, bf16):
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        model(tiles[:batch])  # warm-up
        start = time.perf_counter()
        for i in range(0, len(tiles), batch):
            model(tiles[i:i + batch])
    return len(tiles) / (time.perf_counter() - start)


def main():
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "bench.tif")
        subprocess.run([f"{BIN}/mgpr-test-image", f"image_size={SIZE}", f"tile_size={TILE}", f"image_path={image}"],
                       check=True, stderr=subprocess.DEVNULL)
        weights = os.environ.get("WEIGHTS")
        model = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
        if weights:
            model.load_state_dict(torch.load(weights))
        else:
            torch.manual_seed(0)
            weights = os.path.join(tmp, "fasterrcnn.pth")
            torch.save(model.state_dict(), weights)
        model.eval()
        with rasterio.open(image) as ds:
            tiles = [torch.from_numpy(ds.read((1, 2, 3), window=Window(c, r, TILE, TILE)).astype(np.float32) / 255)
                     for r in range(0, SIZE, TILE) for c in range(0, SIZE, TILE)]
        print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {THREADS} threads; "
              f"{len(tiles)} tiles of {TILE} px; tiles/s")
        print(f"{'batch':>5} {'prec':>5} | {'mgpr':>8} | {'pytorch':>8} | {'mgpr/pytorch':>12}")
        for batch in BATCHES:
            f32 = None
            for precision in ("f32", "bf16"):
                ours = mgpr(weights, image, batch, "32" if precision == "f32" else "bf16-mixed",
                            os.path.join(tmp, f"run-{batch}-{precision}"))
                try:
                    theirs = pytorch(model, tiles, batch, precision == "bf16")
                    note = ""
                except RuntimeError as error:  # torchvision 0.14's CPU nms has no bf16 kernel
                    theirs, note = f32, f"  (PyTorch bf16 failed: {str(error).splitlines()[0]}; ratio against its f32)"
                f32 = f32 or theirs
                print(f"{batch:>5} {precision:>5} | {ours:8.3f} | {theirs:8.3f} | {ours / theirs:12.2f}{note}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
