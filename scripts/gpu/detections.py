"""Detections compared as the GPU checks compare them: [N, limit, 6] rows (x1, y1, x2,
y2, score, label), -1 past the count, matched by tile, label, IoU and score."""
import numpy as np


def detections(rows):
    return [r[r[:, 5] >= 0] for r in rows]


def iou(a, b):
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = w * h
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def agreement(found, expected, min_iou=0.99, score=1e-3):
    """(matched, expected total, extra): expected detections found, found ones unmatched."""
    matched = total = extra = 0
    for f, e in zip(detections(found), detections(expected)):
        total += len(e)
        if len(f) == 0 or len(e) == 0:
            extra += len(f)
            continue
        ok = (iou(e, f) >= min_iou) & (e[:, None, 5] == f[None, :, 5]) & (np.abs(e[:, None, 4] - f[None, :, 4]) <= score)
        matched += int(ok.any(1).sum())
        extra += int((~ok.any(0)).sum())
    return matched, total, extra


def disagreements(result):
    """An agreement's (matched, total, extra) as detections missed plus extra ones."""
    matched, total, extra = result
    return total - matched + extra
