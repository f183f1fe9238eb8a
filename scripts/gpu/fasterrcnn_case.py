"""A Faster R-CNN case for the GPU checks, and PyTorch's results on it.

usage: fasterrcnn_case.py --crop OSBS_029.npy --out DIR [--device cuda]

The crop is a real NEON orthophoto (uint8 [3, 400, 400], as stored). Writes to DIR:
  fasterrcnn.pth   torchvision's fasterrcnn_resnet50_fpn (v1, 91 classes), seeded, with
                   realistic BatchNorm statistics (train-mode passes over the crop and
                   noise) and its classifier scaled so that scores spread across (0, 1),
                   as Tests/ModelTests/reference/make_fasterrcnn.py makes the CPU tests'
                   model: detections then have real scores and sensible boxes.
  inputs.npy       float32 [8, 3, 400, 400] in [0, 1]: the crop in its 8 orientations
                   (4 rotations x mirror), so no two tiles are alike.
  torch_f32.npy, torch_f16.npy, torch_bf16.npy
                   PyTorch's detections on the device, float32 (TF32 off) and autocast,
                   as [N, 100, 6] rows (x1, y1, x2, y2, score, label), -1 past the count:
                   the layout `mgpr forward model=fasterrcnn` writes.
  torch_levels.json  per FPN level, max |autocast - f32| / max |f32| for float16 and
                   bfloat16 on the first tile: PyTorch's own 16-bit error.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../reference"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import orientations, rows  # noqa: E402
from seeded import seeded_fasterrcnn  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--crop", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--device", default="cuda")
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(0)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
LIMIT = 100

crop = torch.from_numpy(np.load(args.crop).astype(np.float32) / 255)
g = torch.Generator().manual_seed(1)
model = seeded_fasterrcnn(crop, g)
torch.save(model.state_dict(), os.path.join(args.out, "fasterrcnn.pth"))

inputs = orientations(crop)
np.save(os.path.join(args.out, "inputs.npy"), inputs.numpy())

model = model.to(args.device)
x = inputs.to(args.device)

levels = {}
with torch.inference_mode():
    reference = rows(model(list(x)), LIMIT)
    np.save(os.path.join(args.out, "torch_f32.npy"), reference)
    batch, _ = model.transform(list(x))
    f32 = model.backbone(batch.tensors[:1])
    for name, dtype in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        with torch.autocast("cuda", dtype=dtype):
            np.save(os.path.join(args.out, f"torch_{name}.npy"), rows(model(list(x)), LIMIT))
            low = model.backbone(batch.tensors[:1])
        levels[name] = {k: float((low[k].float() - f32[k]).abs().max() / f32[k].abs().max()) for k in f32}
with open(os.path.join(args.out, "torch_levels.json"), "w") as f:
    json.dump(levels, f, indent=1)
counts = (reference[..., 5] >= 0).sum(1)
print(f"case: {len(inputs)} tiles of 400 px; torch f32 detections per tile {counts.tolist()}; "
      f"scores {reference[..., 4][reference[..., 5] >= 0].min():.3f}..{reference[..., 4].max():.3f}")
print("torch autocast FPN level error (max |16-bit - f32| / max |f32|):", json.dumps(levels))
