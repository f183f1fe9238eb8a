"""Checks a benchmark run's own detections: the first batch of a 16-bit run (its
results CSV) against mgpr's float32 (TF32 off) on the same tiles, held to PyTorch
autocast's agreement with its float32 on the correctness case, so that the speed
measured is the speed of right answers.

usage: bench_check.py --run RUN.csv --reference F32.csv --case DIR --precision f16|bf16 [--tiles 16]

The CSVs are mgpr's detector tables (xmin, ymin, xmax, ymax, label, score, ..., tile);
the tiles compared are those below --tiles. Matched at the loose bar (same tile and
label, IoU >= 0.9, score within 0.05); passes when the run's disagreements (reference
detections missed plus extra ones) are at most autocast's share on the case
(DIR/torch_f32.npy against DIR/torch_PRECISION.npy) times 1.1, or 2 detections more,
and the reference has at least 100 detections. Exit status 1 otherwise.
"""
import argparse
import csv
import sys

import numpy as np

from detections import agreement, disagreements


def table(path, tiles):
    """The CSV's detections as [tiles, limit, 6] rows, -1 past each tile's count."""
    per_tile = [[] for _ in range(tiles)]
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            t = int(r["tile"])
            if t < tiles:
                per_tile[t].append([float(r[k]) for k in ("xmin", "ymin", "xmax", "ymax", "score")] + [float(r["label"])])
    limit = max(1, max(len(p) for p in per_tile))
    out = np.full((tiles, limit, 6), -1, np.float32)
    for t, p in enumerate(per_tile):
        if p:
            out[t, :len(p)] = p
    return out


parser = argparse.ArgumentParser()
parser.add_argument("--run", required=True)
parser.add_argument("--reference", required=True)
parser.add_argument("--case", required=True)
parser.add_argument("--precision", required=True, choices=["f16", "bf16"])
parser.add_argument("--tiles", type=int, default=16)
args = parser.parse_args()

reference, run = table(args.reference, args.tiles), table(args.run, args.tiles)
ours = agreement(run, reference, 0.9, 0.05)
theirs = agreement(np.load(f"{args.case}/torch_{args.precision}.npy"), np.load(f"{args.case}/torch_f32.npy"), 0.9, 0.05)
share, their_share = disagreements(ours) / max(ours[1], 1), disagreements(theirs) / max(theirs[1], 1)
passed = ours[1] >= 100 and share <= max(1.1 * their_share, their_share + 2 / max(ours[1], 1))
print(f"  {'ok  ' if passed else 'FAIL'} benchmark's {args.precision} batch vs mgpr f32: {ours[0]}/{ours[1]} matched, {ours[2]} extra "
      f"(disagreements {100 * share:.1f}% of f32's); autocast on the case {100 * their_share:.1f}%")
sys.exit(0 if passed else 1)
