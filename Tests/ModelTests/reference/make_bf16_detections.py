"""How far PyTorch's own bf16 autocast moves the detectors' detections on the NEON crop.

usage: make_bf16_detections.py OUT_DIR NEON_CROP.tif

The detectors and tiles are those of make_fasterrcnn.py and make_retinanet.py (their
weights and float64 detections in .fixtures/fasterrcnn and .fixtures/retinanet): Faster
R-CNN, RetinaNet v1 and v2 with 91 classes, and DeepForest's one-class tree model, each
on the NEON crop as one 400 px tile. Each runs here under torch.autocast("cpu",
torch.bfloat16), as the seed's `precision=bf16-mixed` does on a CPU, and its detections
are matched to the float64 ones (match below; DetectorBF16Tests does the same in Swift):

  the float64 detections, by descending score, each take the not yet taken bf16
  detection of the same label with the highest IoU (the first such on a tie), if that
  IoU is at least 0.5;
  missed: float64 detections left without one; extra: bf16 detections never taken;
  box_error, score_error: medians, over the matched pairs, of 1 - IoU and of the score
  difference's magnitude.

Writes manifest.json: per case, those four for autocast, and for PyTorch's float32 for
scale. Nothing else: the tiles and float64 detections stay in their own fixtures.
"""
import json
import os
import statistics
import sys

import torch
import torch.nn.functional as F
import torchvision

out = sys.argv[1]
fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../.fixtures")
os.makedirs(out, exist_ok=True)
torch.set_num_threads(os.cpu_count())
D = torchvision.models.detection


def array(folder, case, key, dtype):
    return torch.from_numpy(__import__("numpy").fromfile(os.path.join(fixtures, folder, "cases", f"{case}.{key}.{dtype}"),
                                                          dtype="<f4" if dtype == "f32" else "<f8"))


def manifest_case(folder, case):
    with open(os.path.join(fixtures, folder, "manifest.json")) as f:
        return next(c for c in json.load(f)["cases"] if c["name"] == case)


def retinanet(model, settings):
    build = D.retinanet_resnet50_fpn_v2 if model.startswith("v2") else D.retinanet_resnet50_fpn
    return build(weights=None, weights_backbone=None, num_classes=settings["num_classes"],
                 score_thresh=settings["score_thresh"], nms_thresh=settings["nms_thresh"],
                 detections_per_img=settings["detections_per_img"], topk_candidates=settings["topk_candidates"])


def cases():
    """(name, detector with its weights, its fixture folder, the case there)."""
    model = D.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
    model.load_state_dict(torch.load(os.path.join(fixtures, "fasterrcnn/fasterrcnn.pth")))
    yield "fasterrcnn", model, "fasterrcnn", "neon_tile"
    for name in ["v1_91", "v2_91", "v1_tree"]:
        case = f"{name}.neon_tile"
        model = retinanet(name, manifest_case("retinanet", case))
        model.load_state_dict(torch.load(os.path.join(fixtures, f"retinanet/{name}.pth")))
        yield f"retinanet_{name}", model, "retinanet", case


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(found, expected):
    """found, expected: lists of (box, label, score); expected by descending score."""
    taken = [False] * len(found)
    missed, ious, score_errors = 0, [], []
    for box, label, score in expected:
        best, best_iou = None, 0.5
        for j, (other, other_label, _) in enumerate(found):
            if not taken[j] and other_label == label:
                overlap = iou(box, other)
                if overlap >= best_iou and (best is None or overlap > best_iou):
                    best, best_iou = j, overlap
        if best is None:
            missed += 1
            continue
        taken[best] = True
        ious.append(best_iou)
        score_errors.append(abs(found[best][2] - score))
    return {"missed": missed, "extra": taken.count(False), "matched": len(ious),
            "box_error": statistics.median(1 - v for v in ious), "score_error": statistics.median(score_errors)}


def detections(result):
    return [(b, int(l), s) for b, l, s in zip(result["boxes"].double().tolist(), result["labels"].tolist(),
                                                result["scores"].double().tolist())]


# This PyTorch (1.13) and torchvision (0.14) lack three bfloat16 CPU paths that later ones
# have, and that the seed's current PyTorch takes: nms and roi_align run in float32 under
# CPU autocast (torchvision's ops/autocast rules; roi_align hands back the features' type),
# and GroupNorm takes bfloat16 input with float32 weights, computing in float32 and
# returning bfloat16. The same here:
torch_nms, torch_roi_align, torch_group_norm = torchvision.ops.boxes.nms, torchvision.ops.poolers.roi_align, F.group_norm
torchvision.ops.boxes.nms = lambda boxes, scores, iou: torch_nms(boxes.float(), scores.float(), iou)
torchvision.ops.poolers.roi_align = lambda features, rois, *args, **kwargs: torch_roi_align(
    features.float(), rois.float(), *args, **kwargs).to(features.dtype)
F.group_norm = lambda x, groups, weight=None, bias=None, eps=1e-5: torch_group_norm(
    x.float(), groups, weight, bias, eps).to(x.dtype)

def network_errors(name, model, folder, case):
    """Autocast's median error, over each network output's elements, of |bf16 - float64|
    over the output's largest |float64| (as make_fasterrcnn.py's for the pyramid levels):
    the pyramid levels and the heads' raw outputs (RPN's objectness and deltas; RetinaNet's
    logits and regression), on the transformed tile the float64 ones were computed from."""
    x = array(folder, case, "input", "f32").view(1, 3, 800, 800)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        features = list(model.backbone(x).values())
        outputs = {f"level{i}": f for i, f in enumerate(features)}
        if name == "fasterrcnn":
            objectness, deltas = model.rpn.head(features)
            heads = {"objectness": objectness, "deltas": deltas}
        else:
            cls, reg = model.head.classification_head, model.head.regression_head
            heads = {"logits": [cls.cls_logits(cls.conv(f)) for f in features],
                     "regression": [reg.bbox_reg(reg.conv(f)) for f in features]}
        outputs.update({f"{key}{i}": t for key, ts in heads.items() for i, t in enumerate(ts)})
    errors = {}
    for key, low in outputs.items():
        exact = array(folder, case, key, "f64")
        errors[key] = ((low.double().flatten() - exact).abs() / exact.abs().max()).median().item()
    return errors


manifest = {"cases": []}
for name, model, folder, case in cases():
    model = model.eval()
    tile = array(folder, case, "tile", "f32").view(3, 400, 400)
    expected = detections({"boxes": array(folder, case, "boxes", "f64").view(-1, 4),
                           "labels": array(folder, case, "labels", "f64"), "scores": array(folder, case, "scores", "f64")})
    with torch.inference_mode():
        f32 = model([tile])[0]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model([tile])[0]
    entry = {"name": name, "fixture": folder, "case": case, "float64_detections": len(expected),
             "torch_bf16": match(detections(bf16), expected), "torch_f32": match(detections(f32), expected),
             "torch_bf16_median_relative_error": network_errors(name, model, folder, case)}
    print(json.dumps(entry), file=sys.stderr)
    manifest["cases"].append(entry)
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
