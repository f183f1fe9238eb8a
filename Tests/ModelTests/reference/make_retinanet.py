"""Reference outputs for the RetinaNet tests, from torchvision's own RetinaNets (CPU):
retinanet_resnet50_fpn (v1, 91 classes), DeepForest's tree model (v1 backbone, one
class, score 0.1, NMS 0.05) and retinanet_resnet50_fpn_v2 (GroupNorm head, P6 from C5).

usage: make_retinanet.py OUT_DIR NEON_CROP.tif

Seeded models, no pretrained weights. Each is first given realistic BatchNorm
statistics (train-mode passes over crops of the NEON tile and random images,
cumulative averages); v2's head GroupNorms get affine parameters with some spread.
An untrained head scores every anchor alike, and scaling its classifier alone only
moves a flood of near-threshold candidates (every image capped at 300 detections,
near-ties at the top-k and the threshold), so its classification branch is tuned on
the NEON tile: v1's tower layers are centred per channel (their conv biases; v2's
GroupNorm does that itself); the last tower layer is shifted to leave only its top
0.001% firing (sparse evidence, as a trained detector's), its top 10% for the tree
model (whose NMS at 0.05 needs denser evidence: tens of trees per window, and a few
duplicates across the mosaic's seams for its NMS to remove); the 91-class classifiers
get a seeded per-class factor exp(N(0, 1)); then cls_logits.weight is scaled (the
prior bias -log(99) is kept; logits are linear in the scale, so it is solved for, not
bisected) to put the model's score threshold in the widest gap between the 150th and
300th highest candidate logits (anchor, class) over all levels (the 400th and 800th
for the tree model): tens to a couple of hundred detections per image, below the 300
cap and the 1000-candidate top-k, scores spread from the threshold to 0.3-1, no
near-tie at the threshold on the tile. bbox_reg is scaled
so that its outputs' RMS on the tile is 0.1: boxes stay near their anchors, decoding
still matters. Each case is checked for tens of detections, unsaturated scores.

Writes the state_dicts (v1_91.pth, v2_91.pth, v1_tree.pth; v1_91 with torchvision <
0.13's key names in v1_91_oldkeys.pth, as safetensors in v1_91.safetensors,
num_batches_tracked as I64, and as a references/detection/train.py checkpoint in
v1_91_reference_script.pth), DeepForest's saved forms of the tree model
(deepforest_tree/: config.json + model.safetensors as its RetinaNetHub saves them;
v1_tree_lightning.ckpt as its Lightning module does), and mosaic.tif (the NEON crop
tiled 2 x 2, right and bottom copies mirrored, cropped to 780 px, the crop's CRS and
geotransform). Then, computed by the same models in float64 (cases/*.f64) from
float32 inputs (cases/*.f32, what mgpr is given):
- <model>.neon_tile: the NEON crop as one tile (values as stored): the tile, the
  transformed input (normalised, resized to 800 px, padded to 32), the five pyramid
  levels (P3-P7), the head's raw conv outputs per level (cls_logits and bbox_reg, before
  torchvision reshapes them), and the detections.
- v1_91/v2_91.noise_1024_b2: two 1024 px tiles of smooth noise (as the Faster R-CNN
  script's, colour-matched to the NEON crop: same RGB mean and covariance, else an
  untrained v1 head tuned on the crop fires everywhere on it), detected in one call.
- deepforest_mosaic: DeepForest's predict_tile over mosaic.tif with torchvision ops:
  400 px windows at offsets 0 and 380 (row-major), pixels / 255, the tree model
  (score 0.1, NMS 0.05, 300 detections), boxes shifted by the window's offset, then
  one class-agnostic NMS at IoU 0.15 over all windows (DeepForest's mosiac), coordinates
  kept as floats; and truncated_*: the same with the shifted coordinates truncated to
  whole pixels before the NMS, as DeepForest's predict.py does. The first window is the crop itself: its detections are the tree
  model's neon_tile ones.
All described by manifest.json. Float64 on Debian's reference BLAS is slow: the float64
passes run two at a time, about 9 minutes on 2 cores.
"""
import copy
import json
import os
import struct
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import rasterio
import torch
import torchvision
from torchvision.models.detection.retinanet import RetinaNet

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../scripts/reference"))
from seeded_retinanet import RETINANET_TUNING, calibrate_retinanet, tune_retinanet  # noqa: E402

out, neon = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "cases"), exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(os.cpu_count())


def log(*args):
    print(*args, file=sys.stderr, flush=True)


with rasterio.open(neon) as ds:
    pixels = ds.read((1, 2, 3))
    crs, geotransform = ds.crs, ds.transform
crop = torch.from_numpy(pixels.astype(np.float32) / 255)
g = torch.Generator().manual_seed(1)

D = torchvision.models.detection
models = {
    "v1_91": D.retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91),
    "v1_tree": RetinaNet(backbone=D.retinanet_resnet50_fpn(weights=None, weights_backbone=None).backbone,
                         num_classes=1, score_thresh=0.1, nms_thresh=0.05),
    "v2_91": D.retinanet_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=91),
}


# Smooth noise as the Faster R-CNN script's, then given the crop's RGB mean and covariance.
def noise():
    low = torch.rand(1, 3, 64, 64, generator=g)
    t = torch.nn.functional.interpolate(low, size=(1024, 1024), mode="bilinear", align_corners=False)[0]
    f = t.double().flatten(1)
    white = torch.linalg.solve(torch.linalg.cholesky(torch.cov(f)), f - f.mean(1, keepdim=True))
    c = crop.double().flatten(1)
    matched = c.mean(1, keepdim=True) + torch.linalg.cholesky(torch.cov(c)) @ white
    return matched.clamp(0, 1).float().view(3, 1024, 1024)


noise_tiles = torch.stack([noise(), noise()])

# mosaic.tif: the crop tiled 2 x 2, the right and bottom copies mirrored, cut to 780 px.
top = np.concatenate([pixels, np.flip(pixels, 2)], 2)
mosaic = np.ascontiguousarray(np.concatenate([top, np.flip(top, 1)], 1)[:, :780, :780])
with rasterio.open(os.path.join(out, "mosaic.tif"), "w", driver="GTiff", width=780, height=780, count=3,
                   dtype="uint8", crs=crs, transform=geotransform) as ds:
    ds.write(mosaic)
offsets = [0, 380]
windows = [(col, row) for row in offsets for col in offsets]  # row-major, (col, row) of the top-left pixel
with rasterio.open(os.path.join(out, "mosaic.tif")) as ds:
    window_tiles = [torch.from_numpy(ds.read((1, 2, 3), window=rasterio.windows.Window(col, row, 400, 400))
                                     .astype(np.float32) / 255) for col, row in windows]
assert torch.equal(window_tiles[0], crop)

def forward_parts(model, tiles):
    """RetinaNet.forward in eval, step by step, keeping the pyramid levels and the head's
    raw conv outputs per level (RetinaNet*Head.forward before its reshape)."""
    sizes = [tuple(t.shape[-2:]) for t in tiles]
    images, _ = model.transform(tiles)
    features = list(model.backbone(images.tensors).values())
    cls, reg = model.head.classification_head, model.head.regression_head
    logits = [cls.cls_logits(cls.conv(f)) for f in features]
    regression = [reg.bbox_reg(reg.conv(f)) for f in features]

    def flat(ts, k):
        return torch.cat([t.view(t.shape[0], -1, k, t.shape[2], t.shape[3]).permute(0, 3, 4, 1, 2)
                          .reshape(t.shape[0], -1, k) for t in ts], 1)

    head_outputs = {"cls_logits": flat(logits, cls.num_classes), "bbox_regression": flat(regression, 4)}
    anchors = model.anchor_generator(images, features)
    per_level = [f.shape[2] * f.shape[3] * cls.num_anchors for f in features]
    split = {k: list(v.split(per_level, 1)) for k, v in head_outputs.items()}
    detections = model.postprocess_detections(split, [list(a.split(per_level)) for a in anchors], images.image_sizes)
    detections = model.transform.postprocess(detections, images.image_sizes, sizes)
    return images, features, logits, regression, detections


def describe(name, detections, cap=300):
    """Prints what was found, and fails unless it is a sensible test: tens of boxes (not
    the cap), scores short of saturation, boxes more than a pixel wide and high."""
    for d in detections:
        b, s = d["boxes"], d["scores"]
        wh = b[:, 2:] - b[:, :2]
        log(f"  {name}: {len(s)} detections, scores [{s.min():.4f}, {s.max():.4f}], "
            f"w [{wh[:, 0].min():.1f}, {wh[:, 0].max():.1f}], h [{wh[:, 1].min():.1f}, {wh[:, 1].max():.1f}], "
            f"{len(d['labels'].unique())} labels")
        assert 10 <= len(s) < cap, f"{name}: {len(s)} detections"
        assert s.max() < 0.99999 and (wh > 1).all(), name


tuning, f32 = {}, {}
for name, model in models.items():
    calibrate_retinanet(model, crop, g)
    tuning[name] = tune_retinanet(model, crop, g, *RETINANET_TUNING[name])
    log(name, tuning[name])
    # float32, torchvision's own forward: the step-by-step one must match it exactly.
    with torch.inference_mode():
        f32[name] = forward_parts(model, [crop])
        whole = model([crop])[0]
        assert all(torch.equal(whole[k], f32[name][4][0][k]) for k in whole), name
        describe(f"{name} float32 neon_tile", [whole])
        if name != "v1_tree":
            describe(f"{name} float32 noise_1024_b2", model(list(noise_tiles)))
        else:
            describe(f"{name} float32 mosaic windows", model(window_tiles))

# Weights.
for name, model in models.items():
    torch.save(model.state_dict(), os.path.join(out, f"{name}.pth"))
state = models["v1_91"].state_dict()
old = {}
for k, v in state.items():
    k2 = k
    for head in ("classification_head", "regression_head"):
        for i in range(4):
            for s in ("weight", "bias"):
                k2 = k2.replace(f"head.{head}.conv.{i}.0.{s}", f"head.{head}.conv.{2 * i}.{s}")
    for blk in ("inner_blocks", "layer_blocks"):
        for i in range(3):
            for s in ("weight", "bias"):
                k2 = k2.replace(f"backbone.fpn.{blk}.{i}.0.{s}", f"backbone.fpn.{blk}.{i}.{s}")
    old[k2] = v
assert len(old) == len(state) and sum(k not in state for k in old) == 28
torch.save(old, os.path.join(out, "v1_91_oldkeys.pth"))
fresh = D.retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
try:
    fresh.load_state_dict(torch.load(os.path.join(out, "v1_91_oldkeys.pth")))
    oldkeys_accepted = all(torch.equal(fresh.state_dict()[k], v) for k, v in state.items())
except RuntimeError as e:
    log("torchvision refuses v1_91_oldkeys.pth:", e)
    oldkeys_accepted = False
log("torchvision accepts v1_91_oldkeys.pth:", oldkeys_accepted)

DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def save_safetensors(tensors, path):
    """safetensors by hand: u64 header length, JSON header (space-padded to 8), raw data."""
    header, blobs, offset = {}, [], 0
    for k, v in tensors.items():
        data = v.contiguous().numpy().tobytes()  # little-endian: x86 and arm64
        header[k] = {"dtype": DTYPES[v.dtype], "shape": list(v.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__")
    types = {"F32": np.float32, "I64": np.int64}
    return {k: torch.from_numpy(np.frombuffer(raw[8 + n + h["data_offsets"][0]:8 + n + h["data_offsets"][1]],
                                              dtype=types[h["dtype"]]).copy()).view(h["shape"])
            for k, h in header.items()}


save_safetensors(state, os.path.join(out, "v1_91.safetensors"))
back = load_safetensors(os.path.join(out, "v1_91.safetensors"))
assert back.keys() == state.keys() and all(torch.equal(back[k], v) for k, v in state.items())
torch.save({"model": state, "optimizer": {}, "epoch": 3, "args": None},
           os.path.join(out, "v1_91_reference_script.pth"))
tree = models["v1_tree"].state_dict()
os.makedirs(os.path.join(out, "deepforest_tree"), exist_ok=True)
with open(os.path.join(out, "deepforest_tree", "config.json"), "w") as f:
    json.dump({"num_classes": 1, "nms_thresh": 0.05, "score_thresh": 0.1, "label_dict": {"Tree": 0}}, f, indent=1)
save_safetensors(tree, os.path.join(out, "deepforest_tree", "model.safetensors"))
torch.save({"state_dict": {"model." + k: v for k, v in tree.items()}, "epoch": 1, "global_step": 10,
            "hyper_parameters": {"label_dict": {"Tree": 0}}}, os.path.join(out, "v1_tree_lightning.ckpt"))

models64 = {name: copy.deepcopy(model).double() for name, model in models.items()}


# Float64: every pass on its own thread, two at a time (one core each: Debian's BLAS
# is single-threaded, and the convolutions release the GIL).
def job(name, kind, tiles):
    with torch.inference_mode():
        if kind == "parts":
            return forward_parts(models64[name], [t.double() for t in tiles])
        return models64[name]([t.double() for t in tiles])


jobs = {("v2_91", "noise"): ("v2_91", "detect", list(noise_tiles)),
        ("v1_91", "noise"): ("v1_91", "detect", list(noise_tiles))}
jobs.update({(name, "neon"): (name, "parts", [crop]) for name in models})
jobs.update({("v1_tree", i): ("v1_tree", "detect", [window_tiles[i]]) for i in range(1, len(windows))})
torch.set_num_threads(1)
with ThreadPoolExecutor(2) as pool:
    futures = {key: pool.submit(job, *args) for key, args in jobs.items()}
    f64 = {key: f.result() for key, f in futures.items()}
torch.set_num_threads(os.cpu_count())


def save(case, key, t):
    """Inputs as float32 (what mgpr is given), float64 results as float64."""
    ext, dtype = ("f64", np.float64) if t.dtype == torch.float64 else ("f32", np.float32)
    t.contiguous().numpy().astype(dtype).tofile(os.path.join(out, "cases", f"{case['name']}.{key}.{ext}"))
    case["arrays"][key] = {"shape": list(t.shape), "dtype": ext}


def thresholds(model):
    return {"score_thresh": model.score_thresh, "nms_thresh": model.nms_thresh,
            "detections_per_img": model.detections_per_img, "topk_candidates": model.topk_candidates}


manifest = {"models": {}, "cases": []}
for name, model in models.items():
    manifest["models"][name] = {"weights": f"{name}.pth", "num_classes": model.head.classification_head.num_classes,
                                **thresholds(model), "tuning": tuning[name]}
manifest["models"]["v1_91"]["other_weights"] = {
    "oldkeys": "v1_91_oldkeys.pth", "oldkeys_accepted_by_torchvision": oldkeys_accepted,
    "safetensors": "v1_91.safetensors", "safetensors_num_batches_tracked": "I64",
    "reference_script": "v1_91_reference_script.pth"}
manifest["models"]["v1_tree"]["other_weights"] = {
    "deepforest_hub": "deepforest_tree", "lightning": "v1_tree_lightning.ckpt", "label_dict": {"Tree": 0}}

with torch.inference_mode():
    for name, model in models.items():
        images, features, logits, regression, detections = f64[(name, "neon")]
        batch = f32[name][0]
        case = {"name": f"{name}.neon_tile", "model": name, "image_size": list(batch.image_sizes[0]),
                "num_classes": model.head.classification_head.num_classes, **thresholds(model), "arrays": {}}
        save(case, "tile", crop)
        save(case, "input", batch.tensors)
        exact, mine = {}, {}
        for key, ts64, ts32 in (("level", features, f32[name][1]), ("logits", logits, f32[name][2]),
                                ("regression", regression, f32[name][3])):
            for i, (t64, t32) in enumerate(zip(ts64, ts32)):
                save(case, f"{key}{i}", t64)
                exact[f"{key}{i}"], mine[f"{key}{i}"] = t64, t32
        d = detections[0]
        describe(f"{name}.neon_tile", [d])
        for key in ("boxes", "scores"):
            save(case, key, d[key])
        save(case, "labels", d["labels"].double())
        # PyTorch's own float32 against float64, per output (largest difference over largest
        # |value|): float32's own rounding, part of the bar mgpr's float32 is held to.
        case["torch_f32_relative_error"] = {
            k: ((mine[k].double() - exact[k]).abs().max() / exact[k].abs().max()).item() for k in exact}
        manifest["cases"].append(case)

    # Two 1024 px tiles given together, detections only.
    for name in ("v1_91", "v2_91"):
        case = {"name": f"{name}.noise_1024_b2", "model": name, **thresholds(models[name]), "arrays": {}}
        save(case, "tile", noise_tiles)
        results = f64[(name, "noise")]
        describe(case["name"], results)
        boxes = [r["boxes"] for r in results]
        save(case, "counts", torch.tensor([float(len(b)) for b in boxes], dtype=torch.float64))
        save(case, "boxes", torch.cat(boxes))
        save(case, "scores", torch.cat([r["scores"] for r in results]))
        save(case, "labels", torch.cat([r["labels"] for r in results]).double())
        manifest["cases"].append(case)

    # DeepForest's predict_tile over mosaic.tif: per window, then one NMS over all.
    per_window = [f64[("v1_tree", "neon")][4][0]] + [f64[("v1_tree", i)][0] for i in range(1, len(windows))]
    describe("deepforest_mosaic windows", per_window)
    shifted = [r["boxes"] + torch.tensor([col, row, col, row], dtype=torch.float64)
               for r, (col, row) in zip(per_window, windows)]
    boxes, scores = torch.cat(shifted), torch.cat([r["scores"] for r in per_window])
    labels = torch.cat([r["labels"] for r in per_window])
    keep = torchvision.ops.nms(boxes, scores, 0.15)
    case = {"name": "deepforest_mosaic", "model": "v1_tree", "raster": "mosaic.tif", "window_size": 400,
            "offsets": offsets, "windows": [list(w) for w in windows], "windows_order": "row-major, [col, row]",
            "mosaic_iou": 0.15, **thresholds(models["v1_tree"]), "arrays": {}}
    describe("deepforest_mosaic", [{"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}], cap=1200)
    save(case, "boxes", boxes[keep])
    save(case, "scores", scores[keep])
    save(case, "labels", labels[keep].double())
    save(case, "window_counts", torch.tensor([float(len(r["scores"])) for r in per_window], dtype=torch.float64))
    # As DeepForest 2.1.0's predict.py does it: the window's offset added in float64,
    # the sum truncated toward zero (astype(int)), then the one NMS over the mosaic.
    whole = torch.trunc(boxes)
    keep = torchvision.ops.nms(whole, scores, 0.15)
    save(case, "truncated_boxes", whole[keep])
    save(case, "truncated_scores", scores[keep])
    save(case, "truncated_labels", labels[keep].double())
    manifest["cases"].append(case)
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print(json.dumps(manifest))
