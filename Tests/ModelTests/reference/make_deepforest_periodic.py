"""Reference for preset=deepforest over 36 windows, computed by torchvision in float64.

usage: make_deepforest_periodic.py OUT_DIR NEON_CROP.tif

periodic.tif is 1900 px of the NEON crop's top-left 300 px repeated every 300 px, with
the crop's CRS and pixel size. DeepForest's windows (400 px, patch_overlap 0.25, so a
stride of 300, the last at 1500) fall 6 x 6 over it, and since the raster repeats with
the stride, every window holds the same pixels: one float64 pass of DeepForest's tree
model (make_retinanet.py's v1_tree.pth: score 0.1, NMS 0.05, 300 detections) gives
every window's detections. Neighbouring windows overlap by 100 px, so trees there are
found by both, for the mosaic NMS to remove (with DeepForest's default 5%, 20 px, no
two of them overlapped by more than 0.15 on this crop).

Then DeepForest 2.1.0's predict_tile, as its predict.py does it: each window's boxes
plus the window's offset in float64, truncated toward zero (astype(int)), windows in
its order (column-major), one class-agnostic NMS at IoU 0.15 over all of them. Writes
cases/deepforest_periodic.{window_boxes,window_scores,truncated_boxes,truncated_scores}
.f64 and manifest.json.
"""
import json
import os
import sys

import numpy as np
import rasterio
import torch
import torchvision
from torchvision.models.detection.retinanet import RetinaNet

out, neon = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
weights = os.path.join(here, "../../../.fixtures/retinanet/v1_tree.pth")
os.makedirs(os.path.join(out, "cases"), exist_ok=True)
torch.set_num_threads(os.cpu_count())

SIZE, WINDOW, STRIDE = 1900, 400, 300
with rasterio.open(neon) as ds:
    period = ds.read((1, 2, 3))[:, :STRIDE, :STRIDE]
    crs, transform = ds.crs, ds.transform
reps = SIZE // STRIDE + 1
raster = np.ascontiguousarray(np.tile(period, (1, reps, reps))[:, :SIZE, :SIZE])
with rasterio.open(os.path.join(out, "periodic.tif"), "w", driver="GTiff", width=SIZE, height=SIZE, count=3,
                   dtype="uint8", crs=crs, transform=transform) as ds:
    ds.write(raster)
offsets = list(range(0, SIZE - WINDOW + 1, STRIDE))
assert offsets[-1] == SIZE - WINDOW and len(offsets) == 6
windows = [(col, row) for col in offsets for row in offsets]  # DeepForest's order: by column, then row
tile = raster[:, :WINDOW, :WINDOW]
assert all(np.array_equal(raster[:, r:r + WINDOW, c:c + WINDOW], tile) for c, r in windows), "every window the same pixels"

D = torchvision.models.detection
model = RetinaNet(backbone=D.retinanet_resnet50_fpn(weights=None, weights_backbone=None).backbone,
                  num_classes=1, score_thresh=0.1, nms_thresh=0.05)
model.load_state_dict(torch.load(weights))
model = model.double().eval()
with torch.inference_mode():
    found = model([torch.from_numpy(tile.astype(np.float32) / 255).double()])[0]
count = len(found["scores"])
print(f"one window: {count} trees, scores {found['scores'].min():.3f} to {found['scores'].max():.3f}", file=sys.stderr)
assert 20 <= count < 300, count

boxes = torch.cat([found["boxes"] + torch.tensor([c, r, c, r], dtype=torch.float64) for c, r in windows])
scores = found["scores"].repeat(len(windows))
whole = torch.trunc(boxes)
keep = torchvision.ops.nms(whole, scores, 0.15)
print(f"36 windows: {len(boxes)} boxes, {len(keep)} after the mosaic NMS", file=sys.stderr)
assert len(boxes) * 0.5 < len(keep) < len(boxes), "the overlaps hold duplicates for the NMS, and most trees survive"

case = {"name": "deepforest_periodic", "raster": "periodic.tif", "window_size": WINDOW, "stride": STRIDE,
        "offsets": offsets, "windows_order": "column-major, [col, row]", "mosaic_iou": 0.15, "arrays": {}}
for key, t in (("window_boxes", found["boxes"]), ("window_scores", found["scores"]),
               ("truncated_boxes", whole[keep]), ("truncated_scores", scores[keep])):
    t.contiguous().numpy().astype(np.float64).tofile(os.path.join(out, "cases", f"deepforest_periodic.{key}.f64"))
    case["arrays"][key] = {"shape": list(t.shape), "dtype": "f64"}
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump({"cases": [case]}, f, indent=1)
