"""What the GPU case scripts share: the crop's 8 orientations as a batch, and
detections in the layout `mgpr forward` writes."""
import numpy as np
import torch


def orientations(crop):
    """The crop (float [3, H, W]) in its 8 orientations (4 rotations x mirror): no two tiles alike."""
    tiles = []
    for flip in (False, True):
        base = crop.flip(2) if flip else crop
        tiles += [torch.rot90(base, r, (1, 2)) for r in range(4)]
    return torch.stack(tiles).contiguous()


def rows(results, limit):
    """torchvision's detections as [N, limit, 6] rows (x1, y1, x2, y2, score, label), -1 past the count."""
    out = np.full((len(results), limit, 6), -1, np.float32)
    for i, r in enumerate(results):
        n = min(limit, len(r["scores"]))
        out[i, :n, :4] = r["boxes"][:n].float().cpu().numpy()
        out[i, :n, 4] = r["scores"][:n].float().cpu().numpy()
        out[i, :n, 5] = r["labels"][:n].cpu().numpy()
    return out
