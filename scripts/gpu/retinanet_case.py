"""A RetinaNet case for the GPU checks, and PyTorch's results on it.

usage: retinanet_case.py --crop OSBS_029.npy --out DIR [--device cuda]

The crop is a real NEON orthophoto (uint8 [3, 400, 400], as stored). Writes to DIR:
  retinanet.pth    torchvision's retinanet_resnet50_fpn (v1, 91 classes), seeded, its
                   BatchNorm calibrated and its heads tuned on the crop as the CPU tests'
                   v1_91 model is (scripts/reference/seeded_retinanet.py): tens of
                   detections per tile with spread scores.
  inputs.npy       float32 [8, 3, 400, 400] in [0, 1]: the crop in its 8 orientations.
  torch_f32.npy, torch_f16.npy, torch_bf16.npy
                   PyTorch's detections on the device, float32 (TF32 off) and autocast,
                   as [N, 300, 6] rows (x1, y1, x2, y2, score, label), -1 past the count:
                   the layout `mgpr forward model=retinanet detections_per_tile=300` writes.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../reference"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import orientations, rows  # noqa: E402
from seeded_retinanet import RETINANET_TUNING, calibrate_retinanet, tune_retinanet  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--crop", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--device", default="cuda")
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(0)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
LIMIT = 300

crop = torch.from_numpy(np.load(args.crop).astype(np.float32) / 255)
g = torch.Generator().manual_seed(1)
model = torchvision.models.detection.retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
calibrate_retinanet(model, crop, g)
tuning = tune_retinanet(model, crop, g, *RETINANET_TUNING["v1_91"])
torch.save(model.state_dict(), os.path.join(args.out, "retinanet.pth"))

inputs = orientations(crop)
np.save(os.path.join(args.out, "inputs.npy"), inputs.numpy())

model = model.to(args.device)
x = inputs.to(args.device)

with torch.inference_mode():
    reference = rows(model(list(x)), LIMIT)
    np.save(os.path.join(args.out, "torch_f32.npy"), reference)
    for name, dtype in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        with torch.autocast("cuda", dtype=dtype):
            np.save(os.path.join(args.out, f"torch_{name}.npy"), rows(model(list(x)), LIMIT))
counts = (reference[..., 5] >= 0).sum(1)
print(f"case: {len(inputs)} tiles of 400 px; tuning {tuning}; torch f32 detections per tile {counts.tolist()}; "
      f"scores {reference[..., 4][reference[..., 5] >= 0].min():.3f}..{reference[..., 4].max():.3f}")
