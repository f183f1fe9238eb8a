"""A seeded ResNet50 test case for mgpr's GPU checks: weights and image-like inputs.

usage: resnet50_case.py --out DIR [--seed 0] [--count 256] [--size 224] [--device cpu|cuda]

Writes to DIR:
  resnet50.pth   torchvision resnet50 (weights=None, 1000 classes) state_dict, torch.save's
                 zip format (what mgpr's weights= loads)
  inputs.npy     [N, 3, S, S] float32 pixels in [0, 1], NOT normalised (mgpr normalises)
  case.json      seed, shapes and the logits' statistics printed below

A freshly initialised network is a weak oracle (see Tests/ModelTests/reference/
make_resnet50.py): its BatchNorm statistics let activations grow through 50 layers,
every image gets the same top class (the pooled features share one large positive
component), and, measured here, bfloat16 autocast already changes its pooled features
by ~9% (rounding errors grow through 16 full-strength residual branches), so that
torch's own bf16 agreed with its f32 on the top class of 8 images in 32. So:
  1. Each bottleneck's last BatchNorm weight (the residual branch's scale) is set to
     0.1, as trained ResNets' tend to be small (torchvision's zero_init_residual even
     starts them at 0): bf16's feature error drops to ~0.7%.
  2. BatchNorm gets realistic running statistics: train-mode passes over image-like
     calibration inputs (a separate seeded stream, not the test inputs), cumulative
     averages (momentum=None).
  3. The classifier reads the 8 leading principal components of the pooled features
     (over 64 calibration images), whitened, through seeded random weights, its bias
     centring them: each image's class comes from what sets it apart, along the
     directions least disturbed by rounding, not from what all images share. Measured
     on 128 images, bf16 autocast on the CPU, mean of 10 draws: 8 components gave 61
     distinct top-1 classes and 99.4% bf16-f32 top-1 agreement; 16 gave 80 and 98.6%;
     32 gave 95 and 97.7%; plain centring or standardising all 2048 features far
     lower agreement; the raw classifier 3-4 classes.
  4. The classifier is scaled so that the median top-1 probability is about 0.5:
     logits neither saturated nor all near-ties.
The weights depend on --seed only (calibration is always at 224 px); the inputs on
--seed, --count and --size. Model init and images are made on the CPU with seeded
generators; calibration runs on --device. torch 1.13 (CPU) and 2.11 gave the same
weights and inputs to rounding (max differences 7e-5 on fc.bias of magnitude 20, 1e-5 on
pixels); a case is made once and all its outputs computed from those files anyway.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from resnet50_reference import set_tf32  # this folder is on sys.path when run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../reference"))
from seeded import calibrate_batchnorm, scale_linear, scale_to  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def images(n, size, g):
    """Image-like inputs in [0, 1]: a colour gradient, soft elliptical blobs and smooth
    multi-scale (1/f-like) texture with correlated colour. iid pixel noise would be
    unlike anything a raster holds, and would make every image look alike to the net."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    out = torch.empty(n, 3, size, size)
    for i in range(n):
        # Background: a linear gradient between two random colours in a random direction.
        angle = torch.rand(1, generator=g) * 2 * np.pi
        t = ((torch.cos(angle) * xx + torch.sin(angle) * yy) + 1.5) / 3  # in [0, 1]
        c0, c1 = torch.rand(3, 1, 1, generator=g), torch.rand(3, 1, 1, generator=g)
        img = c0 * (1 - t) + c1 * t
        # Blobs: soft-edged rotated ellipses, alpha-blended, a few to a few dozen.
        for _ in range(int(torch.randint(2, 30, (1,), generator=g))):
            cx, cy = (torch.rand(2, generator=g) * 2.4 - 1.2).tolist()
            ax, ay = (0.03 + torch.rand(2, generator=g) * 0.5).tolist()
            th = float(torch.rand(1, generator=g)) * np.pi
            u = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
            v = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
            r = (u / ax) ** 2 + (v / ay) ** 2
            alpha = torch.sigmoid((1 - r) * float(2 + torch.rand(1, generator=g) * 20)) * float(0.4 + 0.6 * torch.rand(1, generator=g))
            img = img * (1 - alpha) + torch.rand(3, 1, 1, generator=g) * alpha
        # Texture: octaves of bicubically upsampled noise, amplitude halving with scale;
        # one luminance field for all channels plus weaker per-channel ones.
        tex = torch.zeros(1, 4, size, size)
        amp, cells = float(0.08 + 0.25 * torch.rand(1, generator=g)), 4
        while cells <= size // 2:
            low = torch.randn(1, 4, cells, cells, generator=g)
            tex += amp * F.interpolate(low, size=(size, size), mode="bicubic", align_corners=False)
            amp, cells = amp * 0.55, cells * 2
        img = img + tex[0, :1] + 0.3 * tex[0, 1:]
        # Contrast and brightness vary per image, as between scenes.
        gain = float(0.6 + 0.8 * torch.rand(1, generator=g))
        out[i] = ((img - img.mean()) * gain + img.mean()).clamp(0, 1)
    return out


def logits_stats(logits):
    """What makes a useful oracle: spread logits, many top classes, margins not near-ties."""
    top2 = logits.topk(2, dim=1).values
    margin = top2[:, 0] - top2[:, 1]
    relative = margin / logits.abs().max(1).values
    p = torch.softmax(logits, 1).max(1).values
    return {
        "logits_std": logits.std().item(),
        "logits_max_abs": logits.abs().max().item(),
        "distinct_top1": len(set(logits.argmax(1).tolist())),
        "inputs": len(logits),
        "top2_margin_median": margin.median().item(),
        "top2_margin_min": margin.min().item(),
        "top2_relative_margin_median": relative.median().item(),
        "top2_relative_margin_min": relative.min().item(),
        "inputs_with_relative_margin_below_1e-4": int((relative < 1e-4).sum()),
        "top1_probability_median": p.median().item(),
    }


def features(model, x):
    """Pooled 2048-d features (everything but the classifier)."""
    m = model
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    return torch.flatten(m.avgpool(m.layer4(m.layer3(m.layer2(m.layer1(x))))), 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=256)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                    help="where calibration runs (float32, TF32 off); init and images are CPU-made")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device(args.device)
    if dev.type == "cuda":  # full float32 for calibration
        set_tf32(False)

    torch.manual_seed(args.seed)  # torchvision's init draws from the global generator
    model = torchvision.models.resnet50(weights=None, num_classes=1000)
    calib = torch.Generator().manual_seed(args.seed * 1000 + 1)
    test = torch.Generator().manual_seed(args.seed * 1000 + 2)

    # 1. Residual branches at a tenth of full strength.
    for m in model.modules():
        if isinstance(m, torchvision.models.resnet.Bottleneck):
            torch.nn.init.constant_(m.bn3.weight, 0.1)
    # 2. BatchNorm statistics: cumulative averages over calibration images.
    model.to(dev)
    calibrate_batchnorm(model, lambda: [model(((images(32, 224, calib) - MEAN) / STD).to(dev)) for _ in range(4)])

    # 3. The classifier on whitened leading principal components (float64 here):
    # logits = R diag(1/sigma) V (f - mean), R [1000, 8] seeded N(0, 1).
    with torch.no_grad():
        probe = torch.cat([features(model, ((images(32, 224, calib) - MEAN) / STD).to(dev)).cpu()
                           for _ in range(2)]).double()
        mean = probe.mean(0)
        _, sigma, vh = torch.linalg.svd(probe - mean, full_matrices=False)
        r = torch.randn(1000, 8, generator=calib, dtype=torch.float64)
        w = r @ (vh[:8] / sigma[:8, None])
        fc = model.fc
        fc.weight.copy_(w.float())
        fc.bias.copy_((-w @ mean).float())
        probe = probe.float().to(dev)
        # 4. Scale (bisection on a log scale; logits are linear in the scale) to a median
        # top-1 probability of 0.5.
        k = scale_to(lambda k: torch.softmax(k * fc(probe), 1).max(1).values.median().item(), 0.5, 1e-3, 1e4)
    scale_linear(fc, k)
    model.cpu()
    torch.save(model.state_dict(), os.path.join(args.out, "resnet50.pth"))

    x = images(args.count, args.size, test)
    np.save(os.path.join(args.out, "inputs.npy"), x.numpy().astype(np.float32))

    # Statistics of the test inputs' logits (float32 here; the reference script's
    # float64 pass is the oracle).
    model.to(dev)
    with torch.no_grad():
        logits = torch.cat([model(((x[i:i + 32] - MEAN) / STD).to(dev)).cpu() for i in range(0, len(x), 32)])
    stats = logits_stats(logits.double())
    info = {"seed": args.seed, "count": args.count, "size": args.size, "classes": 1000,
            "fc_scale": k, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "calibration_device": str(dev), "float32_logits": stats}
    with open(os.path.join(args.out, "case.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
