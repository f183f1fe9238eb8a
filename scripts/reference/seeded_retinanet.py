"""The RetinaNet tuning the reference scripts share (Tests/ModelTests/reference/
make_retinanet.py, scripts/gpu/retinanet_case.py): BatchNorm calibrated on crops of a
real tile and random images, then the classification branch tuned on the tile so that
a seeded RetinaNet finds tens of objects with spread scores (make_retinanet.py's
docstring says how and why). Each caller passes its own seeded generator `g`, drawn
from in the same order as before this module existed.
"""
import math

import torch

from seeded import calibrate_batchnorm

# Per model: the last tower layer's percentile left firing, and how many candidates
# (anchor, class) may pass the score threshold on the NEON tile (at least half of it).
RETINANET_TUNING = {"v1_91": (0.99999, 300), "v1_tree": (0.9, 800), "v2_91": (0.99999, 300)}
DELTA_RMS = 0.1


def calibrate_retinanet(model, crop, g):
    """BatchNorm statistics from train-mode passes (cumulative averages), then eval."""
    def passes():
        for _ in range(2):
            images = []
            for _ in range(2):
                s = int(torch.randint(200, 401, (1,), generator=g))
                y, x = (int(v) for v in torch.randint(0, 401 - s, (2,), generator=g))
                images.append(crop[:, y:y + s, x:x + s])
            images.append(torch.rand(3, 400, 400, generator=g))
            batch, _ = model.transform(images)
            model.backbone.body(batch.tensors)

    calibrate_batchnorm(model, passes)


def tune_retinanet(model, crop, g, quantile, n):
    """The classification and regression branches' tuning make_retinanet.py describes; returns its numbers."""
    cls, reg = model.head.classification_head, model.head.regression_head
    with torch.no_grad():
        for m in model.head.modules():
            if isinstance(m, torch.nn.GroupNorm):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
        batch, _ = model.transform([crop])
        features = list(model.backbone(batch.tensors).values())
        x = features
        for i, block in enumerate(cls.conv):  # Conv2d[, GroupNorm], ReLU
            layers = list(block)
            shift = layers[-2].bias  # the conv's bias (v1) or the GroupNorm's (v2)
            pre = torch.cat([torch.nn.Sequential(*layers[:-1])(f).transpose(0, 1).flatten(1) for f in x], 1)
            if not isinstance(layers[-2], torch.nn.GroupNorm):
                mean = pre.mean(1)
                shift.sub_(mean)
                pre -= mean[:, None]
            if i == len(cls.conv) - 1:
                tau = pre.flatten().kthvalue(int(quantile * pre.numel())).values
                shift.sub_(tau)
            x = [block(f) for f in x]
        if cls.num_classes > 1:
            factors = torch.exp(torch.randn(cls.num_classes, generator=g))
            cls.cls_logits.weight.mul_(factors.repeat(cls.num_anchors)[:, None, None, None])
        z = torch.cat([torch.nn.functional.conv2d(f, cls.cls_logits.weight, None, 1, 1).flatten() for f in x])
        top = z.double().topk(n + 1).values
        j = n // 2 - 1 + int((top[n // 2 - 1:n] - top[n // 2:n + 1]).argmax())
        bias = cls.cls_logits.bias[0].item()
        threshold = math.log(model.score_thresh / (1 - model.score_thresh))
        scale = 2 * (threshold - bias) / (top[j] + top[j + 1]).item()
        cls.cls_logits.weight.mul_(scale)
        deltas = torch.cat([reg.bbox_reg(reg.conv(f)).flatten() for f in features])
        r = DELTA_RMS / deltas.pow(2).mean().sqrt().item()
        reg.bbox_reg.weight.mul_(r)
        reg.bbox_reg.bias.mul_(r)
    return {"tower_shift": tau.item(), "cls_logits_scale": scale, "candidates_above_threshold": j + 1,
            "threshold_margin_logit": scale * (top[j] - top[j + 1]).item() / 2, "bbox_reg_scale": r}
