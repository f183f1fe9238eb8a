"""Checks mgpr's detections (`mgpr forward model=fasterrcnn|retinanet`) on the GPU
against its CPU backend, and Faster R-CNN's 16-bit FPN levels against PyTorch
autocast's, for a case made by fasterrcnn_case.py or retinanet_case.py. Prints a table;
exit status 1 if a check fails or a file is missing.

usage: detector_compare.py --case DIR --model NAME
       (reads DIR/mgpr_{cpu,f32,tf32,f16,bf16}.npy, their .levels.npy where the case
       has torch_levels.json, and DIR/torch_*)

Detections are [N, limit, 6] rows (x1, y1, x2, y2, score, label), -1 past the count.
A detection of A is matched in B by one of the same tile with the same label, IoU >=
0.99 and score within 1e-3 (the CPU tests' bar against torchvision).
  gpu-f32 = cpu    GPU float32 (TF32 off) finds >= 99% of the CPU backend's detections,
                   with <= 1% extra (its own unmatched ones), on tiles with real
                   detections (>= 20 each).
  16-bit           agreement with mgpr's own GPU float32 at that bar and at a looser
                   one (IoU >= 0.9, score within 0.05), beside PyTorch autocast's with
                   its float32. Held at the loose bar: mgpr's disagreements (its f32's
                   detections it misses, plus its extra ones) at most autocast's, with
                   10% or 2 detections of slack, whichever is more (8 tiles' counts are
                   small; a real regression misses tens).
  tf32             the same agreement, stated (PyTorch has no TF32 case here).
  FPN levels       per level, max |mgpr 16-bit - mgpr f32| / max |mgpr f32| on the first
                   tile, no worse than 1.5x PyTorch autocast's own on the same tile
                   (torch_levels.json; both implementations round differently).
"""
import argparse
import json
import os
import sys

import numpy as np

from detections import agreement, detections, disagreements

FAILED = []


def load(path):
    if not os.path.exists(path):
        print(f"MISSING {path}")
        FAILED.append(os.path.basename(path))
        return None
    return np.load(path)


def check(name, passed, detail):
    print(f"  {'ok  ' if passed else 'FAIL'} {name:<28} {detail}")
    if not passed:
        FAILED.append(name)


parser = argparse.ArgumentParser()
parser.add_argument("--case", required=True)
parser.add_argument("--model", required=True)
args = parser.parse_args()
c = lambda name: os.path.join(args.case, name)
mgpr = {k: load(c(f"mgpr_{k}.npy")) for k in ("cpu", "f32", "tf32", "f16", "bf16")}
torch_rows = {k: load(c(f"torch_{k}.npy")) for k in ("f32", "f16", "bf16")}
if FAILED:
    sys.exit(1)

print(f"{args.model}, mgpr on the GPU against its CPU backend and itself; PyTorch autocast beside:")
counts = [len(d) for d in detections(mgpr["cpu"])]
check("cpu detections are real", min(counts) >= 20, f"per tile {counts}")
m, t, x = agreement(mgpr["f32"], mgpr["cpu"])
check("gpu-f32 = cpu", m >= 0.99 * t and x <= 0.01 * t, f"{m}/{t} matched ({100 * m / t:.1f}%), {x} extra")
m, t, x = agreement(torch_rows["f32"], mgpr["f32"])
print(f"  info torch f32 vs mgpr gpu-f32    {m}/{t} matched ({100 * m / t:.1f}%), {x} extra")
for name in ("tf32", "f16", "bf16"):
    strict = agreement(mgpr[name], mgpr["f32"])
    loose = agreement(mgpr[name], mgpr["f32"], 0.9, 0.05)
    line = (f"mgpr {strict[0]}/{strict[1]} ({100 * strict[0] / strict[1]:.1f}%) strict, "
            f"{loose[0]}/{loose[1]} ({100 * loose[0] / loose[1]:.1f}%) loose")
    if name not in torch_rows:
        print(f"  info {name + ' vs own f32':<28} {line}")
        continue
    ts = agreement(torch_rows[name], torch_rows["f32"])
    tl = agreement(torch_rows[name], torch_rows["f32"], 0.9, 0.05)
    line += (f"; torch autocast {ts[0]}/{ts[1]} ({100 * ts[0] / ts[1]:.1f}%) strict, "
             f"{tl[0]}/{tl[1]} ({100 * tl[0] / tl[1]:.1f}%) loose")
    ours, theirs = disagreements(loose), disagreements(tl)
    check(f"{name} vs own f32", ours <= max(1.1 * theirs, theirs + 2),
          f"{line}; disagreements mgpr {ours}, autocast {theirs}")

has_levels = os.path.exists(c("torch_levels.json"))
torch_levels = json.load(open(c("torch_levels.json"))) if has_levels else {}
f32 = load(c("mgpr_f32.levels.npy")) if has_levels else None
sizes = None
for name in ("f16", "bf16") if has_levels else ():
    low = load(c(f"mgpr_{name}.levels.npy"))
    if low is None or f32 is None:
        continue
    theirs = list(torch_levels[name].values())
    # The levels one after the other: split by PyTorch's level sizes (256 x h x w each).
    if sizes is None:
        total, sizes = len(f32), []
        side = round((total / 256 / (1 + 1 / 4 + 1 / 16 + 1 / 64 + 1 / 256)) ** 0.5)
        h = w = side
        for _ in range(4):
            sizes.append(256 * h * w)
            h, w = (h + 1) // 2, (w + 1) // 2
        sizes.append(total - sum(sizes))
    ours, start = [], 0
    for n in sizes:
        a, b = low[start:start + n], f32[start:start + n]
        ours.append(float(np.abs(a - b).max() / np.abs(b).max()))
        start += n
    worst = max(o / t for o, t in zip(ours, theirs))
    check(f"FPN levels {name}", worst <= 1.5,
          "mgpr " + ", ".join(f"{o:.2e}" for o in ours) + " | torch " + ", ".join(f"{t:.2e}" for t in theirs)
          + f" (worst ratio {worst:.2f})")
print("FAILED: " + ", ".join(FAILED) if FAILED else "all checks passed")
sys.exit(1 if FAILED else 0)
