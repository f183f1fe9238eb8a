"""What the reference scripts share to turn a seeded torchvision network into a useful
oracle (Tests/ModelTests/reference/make_*.py and scripts/gpu/*_case.py).

A freshly initialised network is a weak oracle: its BatchNorm statistics let
activations grow layer after layer and its classifier saturates or gives every input
the same answer. So BatchNorm is first given realistic running statistics (train-mode
passes over real and random images, cumulative averages), and the classifier is scaled
until a statistic of its outputs reaches a target. Each script draws its images from
its own seeded generator, in the same order as before this module existed, so the
weights it makes are unchanged.
"""
import torch
import torchvision


def calibrate_batchnorm(model, passes):
    """Resets every BatchNorm2d's running statistics, runs `passes()` (forward passes)
    in train mode without gradients so the statistics become cumulative averages
    (momentum None), then puts the model in eval mode."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        passes()
    model.eval()


def scale_to(statistic, target, lo, hi, steps=60):
    """The scale k (bisection on a log scale between lo and hi) at which
    `statistic(k)`, increasing in k, reaches `target`: the last midpoint tried."""
    for _ in range(steps):
        k = (lo * hi) ** 0.5
        lo, hi = (k, hi) if statistic(k) < target else (lo, k)
    return k


def scale_linear(layer, k):
    """Multiplies a linear layer's weight and bias by k (its logits scale by k)."""
    with torch.no_grad():
        layer.weight.mul_(k)
        layer.bias.mul_(k)


def seeded_fasterrcnn(crop, g):
    """torchvision's fasterrcnn_resnet50_fpn (v1, 91 classes) from the global seed, with
    BatchNorm calibrated on the crop (uint8 values / 255, [3, 400, 400]) with its
    columns shuffled and on noise from `g`, and its classifier scaled so that the
    median best foreground probability over the crop's proposals is about 0.3: scores
    spread across (0, 1)."""
    model = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)

    def passes():
        for _ in range(3):
            images = [crop[:, :, torch.randperm(400, generator=g)[:400].sort().values] for _ in range(2)]
            images += [torch.rand(3, 400, 400, generator=g)]
            batch, _ = model.transform(images)
            model.backbone.body(batch.tensors)

    calibrate_batchnorm(model, passes)
    with torch.no_grad():
        batch, _ = model.transform([crop])
        features = model.backbone(batch.tensors)
        proposals, _ = model.rpn(batch, features)
        pooled = model.roi_heads.box_head(model.roi_heads.box_roi_pool(features, proposals, batch.image_sizes))
        logits = model.roi_heads.box_predictor.cls_score(pooled)
        k = scale_to(lambda k: torch.softmax(k * logits, 1)[:, 1:].max(1).values.median().item(), 0.3, 1e-2, 1e3)
    scale_linear(model.roi_heads.box_predictor.cls_score, k)
    return model
