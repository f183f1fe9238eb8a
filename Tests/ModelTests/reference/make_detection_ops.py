"""Reference outputs for the detector's own steps, from torchvision.ops and
torchvision's detection utilities (CPU): NMS with tied scores, both of batched_nms's
paths (coordinate offsets up to 4000 coordinates, one NMS per group above), RoIAlign
(aligned=False) over boxes inside, across and beyond a feature map's edges and
smaller than a cell, BoxCoder.decode_single with deltas past its clamp, and the FPN
anchors of an 800 x 1216 input.

usage: make_detection_ops.py OUT_DIR
Writes OUT_DIR/ops.json. Boxes, deltas and feature maps are drawn in float32 (what
mgpr computes with); RoIAlign and decoding are evaluated in float64 on those values.
"""
import json
import math
import os
import sys

import torch
import torchvision
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
g = torch.Generator().manual_seed(7)


def boxes(n, extent, min_side=4, max_side=60):
    xy = torch.rand(n, 2, generator=g) * extent
    wh = min_side + torch.rand(n, 2, generator=g) * (max_side - min_side)
    return torch.cat([xy, xy + wh], 1).float()


cases = {}
# NMS: scores from five values only, so ties are everywhere.
b = boxes(80, 120)
s = (torch.randint(1, 6, (80,), generator=g).float() / 6)
cases["nms"] = {"boxes": b.flatten().tolist(), "scores": s.tolist(), "iou": 0.5,
                "keep": torchvision.ops.nms(b, s, 0.5).tolist()}
for name, n in (("batched_offsets", 900), ("batched_per_group", 1400)):
    b = boxes(n, 200)
    s = torch.rand(n, generator=g).float()
    s[::7] = 0.5  # ties
    groups = torch.randint(0, 4, (n,), generator=g)
    keep = torchvision.ops.batched_nms(b, s, groups, 0.5)
    cases[name] = {"boxes": b.flatten().tolist(), "scores": s.tolist(), "groups": groups.tolist(), "iou": 0.5,
                   "keep": keep.tolist()}
assert 900 * 4 <= 4000 < 1400 * 4  # the two paths torchvision chooses between on CPU

# RoIAlign on a 3 x 10 x 12 map at spatial scale 0.5: boxes inside, across each edge,
# wholly outside, thinner than a cell, and one past the far corner.
features = torch.rand(1, 3, 10, 12, generator=g).float()
rois = torch.tensor([
    [2.0, 3.0, 15.0, 12.0], [-6.0, -4.0, 8.0, 9.0], [18.0, 14.0, 30.0, 26.0], [-40.0, -40.0, -10.0, -10.0],
    [5.0, 5.0, 5.4, 5.3], [0.0, 0.0, 24.0, 20.0], [22.9, 18.9, 23.9, 19.9], [7.25, 1.5, 9.75, 17.0],
]).float()
pooled = torchvision.ops.roi_align(features.double(), [rois.double()], output_size=7, spatial_scale=0.5,
                                   sampling_ratio=2, aligned=False)
cases["roi_align"] = {"features": features.flatten().tolist(), "shape": list(features.shape[1:]),
                      "boxes": rois.flatten().tolist(), "spatial_scale": 0.5, "pooled": pooled.flatten().tolist()}

# BoxCoder with the box head's weights; some dw, dh far past log(1000 / 16).
reference = boxes(40, 800)
deltas = (torch.randn(40, 4, generator=g) * 2).float()
deltas[::5, 2:] = 60.0
decoded = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0)).decode_single(deltas.double(), reference.double())
cases["box_coder"] = {"weights": [10.0, 10.0, 5.0, 5.0], "boxes": reference.flatten().tolist(),
                      "deltas": deltas.flatten().tolist(), "decoded": decoded.flatten().tolist(),
                      "clip": math.log(1000.0 / 16)}

# Anchors for a padded 800 x 1216 batch, as the FPN detector's generator makes them.
generator = AnchorGenerator(sizes=((32,), (64,), (128,), (256,), (512,)), aspect_ratios=((0.5, 1.0, 2.0),) * 5)
sizes = [(200, 304), (100, 152), (50, 76), (25, 38), (13, 19)]
maps = [torch.zeros(1, 1, h, w) for h, w in sizes]
anchors = generator(ImageList(torch.zeros(1, 3, 800, 1216), [(800, 1216)]), maps)[0]
per_level = [h * w * 3 for h, w in sizes]
cases["anchors"] = {"image": [800, 1216], "features": [list(s) for s in sizes],
                    "levels": [a.flatten().tolist() for a in anchors.split(per_level)]}

with open(os.path.join(out, "ops.json"), "w") as f:
    json.dump(cases, f)
