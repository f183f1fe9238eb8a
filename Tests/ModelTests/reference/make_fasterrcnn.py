"""Reference outputs for the Faster R-CNN tests, from torchvision's own
fasterrcnn_resnet50_fpn (v1, CPU).

usage: make_fasterrcnn.py OUT_DIR NEON_CROP.tif

A seeded model (no pretrained weights: its backbone uses BatchNorm with eps 1e-5) is
first given realistic BatchNorm statistics (train-mode passes over real and random
images, cumulative averages), and its classifier is scaled so that scores spread
across (0, 1). Writes the state_dict (fasterrcnn.pth, and older key names in
fasterrcnn_oldkeys.pth), then, for the NEON crop as one tile (values as stored, as
the seed reads them): the tile and the transformed input (normalised, resized to 800
px, padded to 32) as float32 (cases/*.f32, what mgpr is given), and the five pyramid
levels, the RPN head's outputs per level, the proposals and the detections computed
by the same model in float64 (cases/*.f64): torchvision's own float32 misses
near-ties in the RPN's top-k that float64 settles. All described by manifest.json.
"""
import copy
import json
import os
import sys

import numpy as np
import rasterio
import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../scripts/reference"))
from seeded import seeded_fasterrcnn  # noqa: E402

out, neon = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "cases"), exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(os.cpu_count())

with rasterio.open(neon) as ds:
    crop = torch.from_numpy(ds.read((1, 2, 3)).astype(np.float32) / 255)
g = torch.Generator().manual_seed(1)

model = seeded_fasterrcnn(crop, g)
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

model64 = copy.deepcopy(model).double()


def save(case, key, t):
    """Inputs as float32 (what mgpr is given), float64 results as float64."""
    ext, dtype = ("f64", np.float64) if t.dtype == torch.float64 else ("f32", np.float32)
    t.contiguous().numpy().astype(dtype).tofile(os.path.join(out, "cases", f"{case['name']}.{key}.{ext}"))
    case["arrays"][key] = {"shape": list(t.shape), "dtype": ext}


manifest = {"cases": []}
with torch.inference_mode():
    batch, _ = model.transform([crop])
    x = batch.tensors
    batch64, _ = model64.transform([crop.double()])
    features = model64.backbone(batch64.tensors)
    objectness, deltas = model64.rpn.head(list(features.values()))
    case = {"name": "neon_tile", "image_size": list(batch.image_sizes[0]), "arrays": {}}
    save(case, "tile", crop)
    save(case, "input", x)
    for i, f in enumerate(features.values()):
        save(case, f"level{i}", f)
    for i, (o, d) in enumerate(zip(objectness, deltas)):
        save(case, f"objectness{i}", o)
        save(case, f"deltas{i}", d)
    proposals, _ = model64.rpn(batch64, features)
    save(case, "proposals", proposals[0])
    detections = model64([crop.double()])[0]
    for key in ("boxes", "scores"):
        save(case, key, detections[key])
    save(case, "labels", detections["labels"].double())
    # PyTorch's own float32 against float64, per output (largest difference over largest
    # |value|): float32's own rounding, part of the bar mgpr's float32 is held to.
    low = model.backbone(x)
    o32, d32 = model.rpn.head(list(low.values()))
    mine = dict(zip([f"level{i}" for i in range(5)], low.values()))
    mine.update({f"objectness{i}": t for i, t in enumerate(o32)})
    mine.update({f"deltas{i}": t for i, t in enumerate(d32)})
    exact = dict(zip([f"level{i}" for i in range(5)], features.values()))
    exact.update({f"objectness{i}": t for i, t in enumerate(objectness)})
    exact.update({f"deltas{i}": t for i, t in enumerate(deltas)})
    case["torch_f32_relative_error"] = {
        k: ((mine[k].double() - exact[k]).abs().max() / exact[k].abs().max()).item() for k in exact}
    # PyTorch's own bf16 (autocast) backbone against float64: the bar mgpr's bf16 is held to.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model.backbone(x)
    case["torch_bf16_median_relative_error"] = {
        f"level{i}": ((low[name].double() - f).abs() / f.abs().max()).flatten().median().item()
        for i, (name, f) in enumerate(features.items())}
    manifest["cases"].append(case)

    # Generated 1024 px tiles (smooth noise), detections only: one alone, and a batch of
    # two tiles given together.
    def noise():
        low = torch.rand(1, 3, 64, 64, generator=g)
        return torch.nn.functional.interpolate(low, size=(1024, 1024), mode="bilinear", align_corners=False)[0]

    for name, tiles in (("noise_1024", [noise()]), ("noise_1024_b2", [noise(), noise()])):
        case = {"name": name, "arrays": {}}
        save(case, "tile", torch.stack(tiles))
        results = model64([t.double() for t in tiles])
        boxes = [r["boxes"] for r in results]
        save(case, "counts", torch.tensor([float(len(b)) for b in boxes], dtype=torch.float64))
        save(case, "boxes", torch.cat(boxes))
        save(case, "scores", torch.cat([r["scores"] for r in results]))
        save(case, "labels", torch.cat([r["labels"] for r in results]).double())
        manifest["cases"].append(case)
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print(json.dumps(manifest))
