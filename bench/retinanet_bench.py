"""RetinaNet throughput: mgpr against torchvision's model in PyTorch eager, same weights.

DeepForest's tree model as torchvision builds it (retinanet_resnet50_fpn v1, one class,
score 0.1, NMS 0.05; CLASSES=91 for COCO's head), on the tiles of generated GeoTIFFs:
400 px tiles (DeepForest's default) and 1024 px tiles, each resized to 800 px as
torchvision does, batch 1 and 8, f32 and bf16, same threads, in one run, turn by turn:
  mgpr     mgpr model=retinanet over the raster; tiles/s = tiles / the devices' busy
           seconds (transform, network, decoding, NMS);
  pytorch  the same state_dict on the same tiles (read with rasterio, /255),
           torch.inference_mode(), a list of B tiles per call; bf16 through autocast.
Run: bench/retinanet.sh (TILES="400 1024", BATCHES="1 8", COUNT=tiles per size).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import rasterio
import torch
import torchvision
from rasterio.windows import Window

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fasterrcnn_bench import BIN, THREADS, mgpr, pytorch  # noqa: E402

TILES = [int(v) for v in os.environ.get("TILES", "400 1024").split()]
BATCHES = [int(v) for v in os.environ.get("BATCHES", "1 8").split()]
COUNT = int(os.environ.get("COUNT", 16))
CLASSES = int(os.environ.get("CLASSES", 1))
SCORE, NMS = (0.1, 0.05) if CLASSES == 1 else (0.05, 0.5)


def main():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = torchvision.models.detection.retinanet_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=CLASSES, score_thresh=SCORE, nms_thresh=NMS).eval()
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "retinanet.pth")
        torch.save(model.state_dict(), weights)
        print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {THREADS} threads; "
              f"retinanet v1, {CLASSES} class(es); {COUNT} tiles per size; tiles/s")
        print(f"{'tile':>5} {'batch':>5} {'prec':>5} | {'mgpr':>8} | {'pytorch':>8} | {'mgpr/pytorch':>12}")
        for tile in TILES:
            side = tile * int(np.ceil(np.sqrt(COUNT)))
            image = os.path.join(tmp, f"bench-{tile}.tif")
            subprocess.run([f"{BIN}/mgpr-test-image", f"image_size={side}", f"tile_size={tile}", f"image_path={image}"],
                           check=True, stderr=subprocess.DEVNULL)
            with rasterio.open(image) as ds:
                tiles = [torch.from_numpy(ds.read((1, 2, 3), window=Window(c, r, tile, tile)).astype(np.float32) / 255)
                         for r in range(0, side, tile) for c in range(0, side, tile)]
            for batch in BATCHES:
                for precision in ("f32", "bf16"):
                    ours = mgpr(weights, image, batch, "32" if precision == "f32" else "bf16-mixed",
                                os.path.join(tmp, f"run-{tile}-{batch}-{precision}"), model="retinanet", tile=tile,
                                extra=(f"score_threshold={SCORE}", f"nms_threshold={NMS}"))
                    theirs = pytorch(model, tiles, batch, precision == "bf16")
                    print(f"{tile:>5} {batch:>5} {precision:>5} | {ours:8.3f} | {theirs:8.3f} | {ours / theirs:12.2f}",
                          flush=True)


if __name__ == "__main__":
    sys.exit(main())
