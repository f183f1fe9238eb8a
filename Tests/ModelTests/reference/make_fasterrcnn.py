"""Reference outputs for the Faster R-CNN tests, from torchvision's own
fasterrcnn_resnet50_fpn (v1, CPU).

usage: make_fasterrcnn.py OUT_DIR NEON_CROP.tif

A seeded model (no pretrained weights: its backbone uses BatchNorm with eps 1e-5) is
first given realistic BatchNorm statistics (train-mode passes over real and random
images, cumulative averages), and its classifier is scaled so that scores spread
across (0, 1). Writes the state_dict (fasterrcnn.pth, and older key names in
fasterrcnn_oldkeys.pth), then, for the NEON crop as one tile: the transformed input
(normalised, resized to 800 px, padded to 32), the five pyramid levels and the RPN
head's outputs per level, as raw float32 (cases/*.f32), described by manifest.json.
"""
import json
import os
import sys

import numpy as np
import rasterio
import torch
import torchvision

out, neon = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "cases"), exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(os.cpu_count())

with rasterio.open(neon) as ds:
    crop = torch.from_numpy(ds.read((1, 2, 3), masked=True).filled(0).astype(np.float32) / 255)
g = torch.Generator().manual_seed(1)

model = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
for m in model.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.reset_running_stats()
        m.momentum = None
model.train()
body = model.backbone.body
with torch.no_grad():
    for _ in range(3):
        images = [crop[:, :, torch.randperm(400, generator=g)[:400].sort().values] for _ in range(2)]
        images += [torch.rand(3, 400, 400, generator=g)]
        batch, _ = model.transform(images)
        body(batch.tensors)
model.eval()
# Scale the classifier so that detection scores spread across (0, 1): the median best
# foreground probability over the tile's proposals lands near 0.3.
with torch.no_grad():
    batch, _ = model.transform([crop])
    features = model.backbone(batch.tensors)
    proposals, _ = model.rpn(batch, features)
    pooled = model.roi_heads.box_head(model.roi_heads.box_roi_pool(features, proposals, batch.image_sizes))
    logits = model.roi_heads.box_predictor.cls_score(pooled)
    lo, hi = 1e-2, 1e3
    for _ in range(60):
        k = (lo * hi) ** 0.5
        best = torch.softmax(k * logits, 1)[:, 1:].max(1).values.median().item()
        lo, hi = (k, hi) if best < 0.3 else (lo, k)
    model.roi_heads.box_predictor.cls_score.weight.mul_(k)
    model.roi_heads.box_predictor.cls_score.bias.mul_(k)
state = model.state_dict()
torch.save(state, os.path.join(out, "fasterrcnn.pth"))
old = {}
for k, v in state.items():
    k2 = k
    for blk in ("inner_blocks", "layer_blocks"):
        for i in range(4):
            for s in ("weight", "bias"):
                k2 = k2.replace(f"backbone.fpn.{blk}.{i}.0.{s}", f"backbone.fpn.{blk}.{i}.{s}")
    k2 = k2.replace("rpn.head.conv.0.0.", "rpn.head.conv.")
    old[k2] = v
torch.save(old, os.path.join(out, "fasterrcnn_oldkeys.pth"))

manifest = {"cases": []}
with torch.inference_mode():
    batch, _ = model.transform([crop])
    x = batch.tensors
    features = model.backbone(x)
    objectness, deltas = model.rpn.head(list(features.values()))
    files = {"tile": crop, "input": x}
    for i, (name, f) in enumerate(features.items()):
        files[f"level{i}"] = f
    for i, (o, d) in enumerate(zip(objectness, deltas)):
        files[f"objectness{i}"] = o
        files[f"deltas{i}"] = d
    proposals, _ = model.rpn(batch, features)
    files["proposals"] = proposals[0]
    detections = model([crop])[0]
    files["boxes"] = detections["boxes"]
    files["scores"] = detections["scores"]
    files["labels"] = detections["labels"].float()
    # PyTorch's own bf16 (autocast) backbone against its f32: the bar mgpr's bf16 is held to.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model.backbone(x)
    bf16_error = {}
    for i, (name, f) in enumerate(features.items()):
        bf16_error[f"level{i}"] = ((low[name].float() - f).abs() / f.abs().max()).flatten().median().item()
    case = {"name": "neon_tile", "image_size": list(batch.image_sizes[0]), "arrays": {},
            "torch_bf16_median_relative_error": bf16_error}
    for key, t in files.items():
        t.contiguous().numpy().astype(np.float32).tofile(os.path.join(out, "cases", f"neon_tile.{key}.f32"))
        case["arrays"][key] = list(t.shape)
    manifest["cases"].append(case)

    # A generated 1024 px tile (smooth noise), detections only.
    low = torch.rand(1, 3, 64, 64, generator=g)
    noise = torch.nn.functional.interpolate(low, size=(1024, 1024), mode="bilinear", align_corners=False)[0]
    detections = model([noise])[0]
    case = {"name": "noise_1024", "arrays": {}}
    for key, t in {"tile": noise, "boxes": detections["boxes"], "scores": detections["scores"],
                   "labels": detections["labels"].float()}.items():
        t.contiguous().numpy().astype(np.float32).tofile(os.path.join(out, "cases", f"noise_1024.{key}.f32"))
        case["arrays"][key] = list(t.shape)
    manifest["cases"].append(case)
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print(json.dumps(manifest))
