"""DeepForest's tree model for the GPU benchmark, made where it runs.

usage: deepforest_case.py --crop OSBS_029.npy --out DIR

The weights folder the CPU benchmark uses (.fixtures/retinanet/deepforest_tree, 124 MB)
is too large to carry, so this makes its like from the crop (a real NEON orthophoto,
uint8 [3, 400, 400]): DeepForest's RetinaNet (torchvision's retinanet_resnet50_fpn
backbone, one class, score 0.1, NMS 0.05), seeded, its BatchNorm calibrated and its
heads tuned on the crop as make_retinanet.py tunes the CPU tests' v1_tree model, so
that each 400 px window holds tens of trees with spread scores. Writes DIR as
DeepForest's RetinaNetHub saves it: config.json and model.safetensors. Runs on the CPU
(a few seconds) so the weights do not depend on the GPU.
"""
import argparse
import json
import os
import sys

import numpy as np
import safetensors.torch
import torch
import torchvision
from torchvision.models.detection.retinanet import RetinaNet

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../reference"))
from seeded_retinanet import RETINANET_TUNING, calibrate_retinanet, tune_retinanet  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--crop", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(0)

crop = torch.from_numpy(np.load(args.crop).astype(np.float32) / 255)
g = torch.Generator().manual_seed(1)
backbone = torchvision.models.detection.retinanet_resnet50_fpn(weights=None, weights_backbone=None).backbone
model = RetinaNet(backbone=backbone, num_classes=1, score_thresh=0.1, nms_thresh=0.05)
calibrate_retinanet(model, crop, g)
tuning = tune_retinanet(model, crop, g, *RETINANET_TUNING["v1_tree"])

with open(os.path.join(args.out, "config.json"), "w") as f:
    json.dump({"num_classes": 1, "nms_thresh": 0.05, "score_thresh": 0.1, "label_dict": {"Tree": 0}}, f, indent=1)
safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                            os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})

# A benchmark of a model that finds nothing (or the cap everywhere) measures nothing.
with torch.inference_mode():
    found = model([crop, crop.flip(2)])
counts = [len(d["scores"]) for d in found]
scores = torch.cat([d["scores"] for d in found])
print(f"deepforest case: tuning {tuning}; trees per 400 px window {counts}; "
      f"scores {scores.min():.3f}..{scores.max():.3f}")
if not all(10 <= n < 300 for n in counts) or scores.max() >= 0.99999:
    sys.exit("deepforest case: the seeded model's detections are degenerate (see the line above)")
