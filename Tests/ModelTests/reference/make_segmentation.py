"""Reference outputs for the segmentation tests, from torchvision's DeepLabV3 and FCN
(ResNet-50, dilated, aux classifiers) and segmentation_models_pytorch's Unet (ResNet-34
encoder, 3 bands; ResNet-50 encoder, 4 bands), on CPU.

usage: make_segmentation.py OUT_DIR NEON_CROP.tif

segmentation_models_pytorch is read from <repository>/.fixtures/smp/site, where
scripts/fixtures.sh installs it (pinned); torch, torchvision, numpy and rasterio are
Debian's.

Seeded models, no pretrained weights. Each is first given realistic BatchNorm
statistics (train-mode passes, dropout off, over crops of the NEON tile and smooth
noise, cumulative averages). An untrained network gives most pixels one class, so the
last conv (DeepLabV3, FCN: classifier.4; Unet: segmentation_head.0) gets a per-class
bias offset, solved on NEON probe crops until every class is the argmax on at least 8%
of their pixels, and then its weight and bias are scaled so that the median top-1
softmax probability over those pixels is about 0.6.

Writes to OUT_DIR:
  deeplabv3.pth, fcn.pth, unet_resnet34.pth, unet_resnet50_rgbn.pth
      the state_dicts (DeepLabV3's and FCN's include aux_classifier.*, which inference
      does not use)
  rgbn.tif
      the NEON crop as 4 uint8 bands: R, G, B and round(mean(R, G, B)) as a near-infrared
      stand-in (the mean of three integers is never a half, so the rounding has no ties);
      the crop's CRS and geotransform, no nodata, photometric RGB with band 4 an
      unspecified extra sample (not alpha: no mask)
  cases/<model>.window.*   one 192 px crop, rows 100:292, cols 40:232, batch 1
  cases/<model>.pair.*     two 256 px crops at (0, 0) and (144, 144), batch 2
      .input.f32  the [0, 1] NCHW input, float32 (what mgpr is given; it normalises)
      .logits.f64 the model's logits [N, classes, H, W] (DeepLabV3, FCN: model(x)["out"],
                  already bilinearly upsampled to the input size), computed in float64
  cases/<model>.stitched.* the whole 400 px raster (OSBS_029.tif, or rgbn.tif for the
      4-band model, pixels / 255) as 192 px windows at offsets 0, 104, 208 on both axes,
      each run alone in float64, stitched by the centre rule: per axis, the window in
      which the pixel lies farthest from that window's nearer edge, ties to the later
      window; the pixel takes that window pair's class.
      .classes.u8 [400, 400] row-major; .margin.f32 [400, 400]: the chosen window's
      top-two logit gap at the pixel over that window's largest |logit|;
      .probabilities.f64 [classes, 400, 400]: the chosen window's softmax
  cases/<model>.blended.* the same 9 windows blended (stitch=blend): each pixel's
      probabilities the mean of every covering window's softmax weighted by
      min(i + 1, 192 - i) along each axis of the window (i: the pixel's offset in it),
      the class their argmax.
      .classes.u8 [400, 400]; .probabilities.f64 [classes, 400, 400]; .margin.f32
      [400, 400]: the top-two blended probability gap
  manifest.json
      models (weights, classes, bands, normalisation, class shares on the probes) and
      cases (shapes, torch float32 against float64: pixel agreement of the argmax, max
      logit error relative to the largest |logit|; near-ties)

The 4-band model's window and pair inputs have band 4 = (r + g + b) / 3 of the [0, 1]
float32 values, evaluated in float32; its stitched input is rgbn.tif's uint8 bands / 255.
Float64 on Debian's reference BLAS is slow: the float64 passes run two at a time, one
window each.
"""
import copy
import json
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import rasterio
import torch
import torchvision

root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))
sys.path.insert(0, os.path.join(root, "scripts/reference"))
from seeded import calibrate_batchnorm, scale_to  # noqa: E402

smp_site = os.path.join(root, ".fixtures/smp/site")
if not os.path.isdir(os.path.join(smp_site, "segmentation_models_pytorch")):
    sys.exit(f"make_segmentation.py: segmentation_models_pytorch is not in {smp_site}; "
             "run scripts/fixtures.sh, which installs it there")
sys.path.insert(0, smp_site)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pretrainedmodels' and timm's SyntaxWarnings and deprecations
    import segmentation_models_pytorch as smp  # noqa: E402

out, neon = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "cases"), exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(os.cpu_count())
started = time.time()


def log(*args):
    print(f"[{time.time() - started:6.1f}s]", *args, file=sys.stderr, flush=True)


TILE, OFFSETS, SIZE = 192, [0, 104, 208], 400
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
NIR_MEAN, NIR_STD = 0.45, 0.225

with rasterio.open(neon) as ds:
    # Values as stored, no mask: what mgpr feeds the model by default.
    pixels = ds.read((1, 2, 3))
    crs, geotransform = ds.crs, ds.transform
assert pixels.shape == (3, SIZE, SIZE) and pixels.dtype == np.uint8

# rgbn.tif: R, G, B and round(mean(R, G, B)).
nir = np.round(pixels.astype(np.int64).sum(0) / 3).astype(np.uint8)
rgbn_pixels = np.concatenate([pixels, nir[None]])
with rasterio.open(os.path.join(out, "rgbn.tif"), "w", driver="GTiff", width=SIZE, height=SIZE, count=4,
                   dtype="uint8", crs=crs, transform=geotransform, photometric="RGB", alpha="UNSPECIFIED") as ds:
    ds.write(rgbn_pixels)  # GDAL would make a fourth uint8 band alpha by default
with rasterio.open(os.path.join(out, "rgbn.tif")) as ds:
    assert np.array_equal(ds.read(), rgbn_pixels)
    assert ds.colorinterp[3] != rasterio.enums.ColorInterp.alpha and ds.nodata is None
    assert (ds.dataset_mask() == 255).all()
    rgbn_colorinterp = [c.name for c in ds.colorinterp]

rgb01 = pixels.astype(np.float32) / 255  # [3, 400, 400], the 3-band models' raster
rgbn01 = rgbn_pixels.astype(np.float32) / 255  # [4, 400, 400], the 4-band model's raster


def with_mean_band(x):
    """[N, 3, H, W] float32 in [0, 1] -> [N, 4, H, W]: band 4 = (r + g + b) / 3 in float32."""
    x = np.asarray(x, dtype=np.float32)
    m = ((x[:, 0] + x[:, 1] + x[:, 2]) / np.float32(3)).astype(np.float32)
    return np.concatenate([x, m[:, None]], 1)


S = torchvision.models.segmentation
SPECS = {  # name: (constructor, bands, classes, description)
    "deeplabv3": (lambda: S.deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=6, aux_loss=True),
                  3, 6, "torchvision.models.segmentation.deeplabv3_resnet50(num_classes=6, aux_loss=True)"),
    "fcn": (lambda: S.fcn_resnet50(weights=None, weights_backbone=None, num_classes=6, aux_loss=True),
            3, 6, "torchvision.models.segmentation.fcn_resnet50(num_classes=6, aux_loss=True)"),
    "unet_resnet34": (lambda: smp.Unet("resnet34", encoder_weights=None, in_channels=3, classes=5),
                      3, 5, "segmentation_models_pytorch.Unet('resnet34', in_channels=3, classes=5)"),
    "unet_resnet50_rgbn": (lambda: smp.Unet("resnet50", encoder_weights=None, in_channels=4, classes=4),
                           4, 4, "segmentation_models_pytorch.Unet('resnet50', in_channels=4, classes=4)"),
}


def last_conv(model):
    return model.segmentation_head[0] if isinstance(model, smp.Unet) else model.classifier[4]


def logits_of(model, x):
    y = model(x)
    return y["out"] if isinstance(y, dict) else y


def stats(bands):
    mean = IMAGENET_MEAN + ([NIR_MEAN] if bands == 4 else [])
    std = IMAGENET_STD + ([NIR_STD] if bands == 4 else [])
    return mean, std


def normalize(x, bands):
    mean, std = stats(bands)
    mean = torch.tensor(mean).view(1, bands, 1, 1)
    std = torch.tensor(std).view(1, bands, 1, 1)
    return (x - mean) / std


def class_shares(logits, classes):
    counts = torch.bincount(logits.argmax(1).flatten(), minlength=classes)
    return (counts.double() / counts.sum()).tolist()


models, model_info = {}, {}
for seed, (name, (make, bands, classes, description)) in enumerate(SPECS.items()):
    torch.manual_seed(seed)
    model = make()
    g = torch.Generator().manual_seed(100 + seed)

    def neon_crops(n, size):
        """Random size x size crops of the real orthophoto ([0, 1]), flipped at random."""
        images = []
        for _ in range(n):
            r, c = torch.randint(0, SIZE - size + 1, (2,), generator=g).tolist()
            x = torch.from_numpy(rgb01[None, :, r:r + size, c:c + size])
            if torch.rand(1, generator=g).item() < 0.5:
                x = x.flip(3)
            images.append(x)
        return torch.cat(images)

    def smooth_noise(n, size):
        """Image-like random inputs: low-resolution noise upsampled."""
        low = torch.rand(n, 3, size // 16, size // 16, generator=g)
        return torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)

    def prepare(x):  # [N, 3, H, W] in [0, 1] -> the model's normalised input
        if bands == 4:
            x = torch.from_numpy(with_mean_band(x.numpy()))
        return normalize(x, bands)

    def passes():
        for m in model.modules():  # BatchNorm statistics as eval mode will see them
            if isinstance(m, torch.nn.Dropout):
                m.eval()
        for _ in range(3):
            model(prepare(torch.cat([neon_crops(4, TILE), smooth_noise(4, TILE)])))

    calibrate_batchnorm(model, passes)

    # Per-class offsets o (argmax of z + o is independent of the scale), then the scale k:
    # the last conv becomes k * W, k * (b + o).
    conv = last_conv(model)
    with torch.no_grad():
        probe = prepare(neon_crops(8, TILE))
        z = logits_of(model, probe).double()
        offset = torch.zeros(classes, dtype=torch.float64)
        for _ in range(50):
            shifted = z + offset.view(1, -1, 1, 1)
            shares = torch.tensor(class_shares(shifted, classes))
            if shares.min() >= 0.08:
                break
            for c in range(classes):
                if shares[c] < 0.08:  # the offset that makes c the argmax on 8.5% of the pixels alone
                    others = torch.cat([shifted[:, :c], shifted[:, c + 1:]], 1).max(1).values
                    offset[c] += torch.quantile((others - shifted[:, c]).flatten(), 0.085).item()
        shifted = z + offset.view(1, -1, 1, 1)
        k = scale_to(lambda k: torch.softmax(k * shifted, 1).max(1).values.median().item(), 0.6, 1e-3, 1e3)
        conv.weight.mul_(k)
        conv.bias.copy_(k * (conv.bias + offset.float()))
        after = logits_of(model, probe)
        shares = class_shares(after, classes)
        median = torch.softmax(after, 1).max(1).values.median().item()
    assert min(shares) >= 0.05, (name, shares)
    assert 0.5 < median < 0.7, (name, median)
    log(f"{name}: offsets {[round(v, 3) for v in offset.tolist()]}, scale {k:.4g}, "
        f"probe class shares {[round(s, 3) for s in shares]}, median top-1 probability {median:.3f}")
    torch.save(model.state_dict(), os.path.join(out, f"{name}.pth"))
    mean, std = stats(bands)
    models[name] = model
    model_info[name] = {"weights": f"{name}.pth", "architecture": description, "classes": classes,
                        "in_channels": bands, "class_share": shares, "probe_top1_probability_median": median,
                        "mean": mean, "std": std}
model_info["unet_resnet50_rgbn"]["band4"] = (
    "window, pair: (r + g + b) / 3 of the [0, 1] float32 bands, in float32; "
    "stitched: rgbn.tif band 4 = round(mean(R, G, B)) of the uint8 bands, / 255")

# The cases' [0, 1] inputs, per model.
crops = {"window": rgb01[None, :, 100:292, 40:232],
         "pair": np.stack([rgb01[:, 0:256, 0:256], rgb01[:, 144:400, 144:400]])}
inputs = {}
for name, (_, bands, _, _) in SPECS.items():
    for case, x in crops.items():
        inputs[(name, case)] = np.ascontiguousarray(with_mean_band(x) if bands == 4 else x, dtype=np.float32)
    raster = rgbn01 if bands == 4 else rgb01
    inputs[(name, "stitched")] = np.stack([raster[:, y:y + TILE, x:x + TILE] for y in OFFSETS for x in OFFSETS])

# Float64: one image per pass, two passes at a time (Debian's BLAS is single-threaded,
# and the convolutions release the GIL). DeepLabV3's and FCN's aux classifiers do not
# touch "out": dropped from the copies, they cost nothing.
models64, models32 = {}, {}
for name, model in models.items():
    m64, m32 = copy.deepcopy(model).double(), copy.deepcopy(model)
    if not isinstance(model, smp.Unet):
        m64.aux_classifier = m32.aux_classifier = None
    models64[name], models32[name] = m64.eval(), m32.eval()


def job(name, x):
    with torch.inference_mode():
        return logits_of(models64[name], normalize(torch.from_numpy(x[None]).double(), x.shape[0]))[0]


jobs = [(name, case, i) for name in ["deeplabv3", "fcn", "unet_resnet50_rgbn", "unet_resnet34"]
        for case in ["pair", "stitched", "window"] for i in range(len(inputs[(name, case)]))]
log(f"float64: {len(jobs)} passes")
torch.set_num_threads(1)
with ThreadPoolExecutor(2) as pool:
    futures = {key: pool.submit(job, key[0], inputs[key[:2]][key[2]]) for key in jobs}
    done = {key: f.result() for key, f in futures.items()}
torch.set_num_threads(os.cpu_count())
log("float64 done")
f64 = {key: torch.stack([done[(*key, i)] for i in range(len(x))]) for key, x in inputs.items()}
f32 = {}
with torch.inference_mode():
    for (name, case), x in inputs.items():
        f32[(name, case)] = torch.cat([logits_of(models32[name], normalize(torch.from_numpy(x[i:i + 1]), x.shape[1]))
                                       for i in range(len(x))])


def near_tie_gaps(logits):
    """Per pixel: the top-two logit gap over the image's largest |logit| ([N, C, H, W] -> [N, H, W])."""
    top2 = logits.topk(2, dim=1).values
    return (top2[:, 0] - top2[:, 1]) / logits.abs().amax(dim=(1, 2, 3)).view(-1, 1, 1)


def compare(l64, l32):
    return {"torch_f32_pixel_agreement": (l32.argmax(1) == l64.argmax(1)).double().mean().item(),
            "torch_f32_pixel_disagreements": (l32.argmax(1) != l64.argmax(1)).sum().item(),
            "torch_f32_max_relative_error": ((l32.double() - l64).abs().max() / l64.abs().max()).item()}


def centre_choice():
    """Per coordinate along one axis: the index of the window (in OFFSETS) in which it lies
    farthest from that window's nearer edge, ties to the later window."""
    choice = []
    for p in range(SIZE):
        best, best_distance = None, -1
        for i, o in enumerate(OFFSETS):
            if o <= p <= o + TILE - 1:
                distance = min(p - o, o + TILE - 1 - p)
                if distance >= best_distance:
                    best, best_distance = i, distance
        choice.append(best)
    return choice


def stitch(per_window):
    """[9, H, W] per-window values (row-major windows) -> [400, 400] by the centre rule."""
    choice = centre_choice()
    stitched = np.empty((SIZE, SIZE), dtype=per_window.dtype)
    for y in range(SIZE):
        for x in range(SIZE):
            iy, ix = choice[y], choice[x]
            stitched[y, x] = per_window[iy * len(OFFSETS) + ix, y - OFFSETS[iy], x - OFFSETS[ix]]
    return stitched


def tent(length):
    """A window's blend weight along one axis: the distance to its nearer edge, the edge pixel 1."""
    i = np.arange(length)
    return np.minimum(i + 1, length - i).astype(np.float64)


def blend(probabilities):
    """[9, C, H, W] per-window softmax (row-major windows) -> [C, 400, 400]: each pixel the
    mean of every window's that covers it, weighted by tent(y) * tent(x) in the window."""
    weight = tent(TILE)[:, None] * tent(TILE)[None, :]
    total = np.zeros((probabilities.shape[1], SIZE, SIZE))
    weights = np.zeros((SIZE, SIZE))
    for iy, oy in enumerate(OFFSETS):
        for ix, ox in enumerate(OFFSETS):
            total[:, oy:oy + TILE, ox:ox + TILE] += weight * probabilities[iy * len(OFFSETS) + ix]
            weights[oy:oy + TILE, ox:ox + TILE] += weight
    return total / weights


manifest = {"models": model_info, "cases": [],
            "stitched": {"tile": TILE, "offsets": OFFSETS, "windows": "row-major: (row offset, col offset)",
                         "rule": "per axis, the window in which the pixel lies farthest from that window's "
                                 "nearer edge (min(p - o, o + tile - 1 - p)), ties to the later window"},
            "near_ties": "pixels whose top-two float64 logits differ by less than 1e-3 x the largest |logit| "
                         "of their image (stitched: of their chosen window)",
            "rgbn": {"file": "rgbn.tif", "bands": "R, G, B, round(mean(R, G, B)) of the uint8 bands",
                     "colorinterp": rgbn_colorinterp}}
for (name, case), x in inputs.items():
    l64, l32 = f64[(name, case)], f32[(name, case)]
    classes = model_info[name]["classes"]
    entry = {"model": name, "name": case}
    if case != "stitched":
        x.tofile(os.path.join(out, "cases", f"{name}.{case}.input.f32"))
        l64.numpy().astype(np.float64).tofile(os.path.join(out, "cases", f"{name}.{case}.logits.f64"))
        entry.update(shape=list(x.shape), logits_shape=list(l64.shape), **compare(l64, l32),
                     near_ties=(near_tie_gaps(l64) < 1e-3).sum().item(), class_share=class_shares(l64, classes),
                     top1_probability_median=torch.softmax(l64, 1).max(1).values.median().item())
        if name == "deeplabv3" or name == "fcn":
            assert l64.shape[-2:] == x.shape[-2:]
    else:
        classes64 = stitch(l64.argmax(1).numpy().astype(np.uint8))
        classes32 = stitch(l32.argmax(1).numpy().astype(np.uint8))
        margin = stitch(near_tie_gaps(l64).numpy().astype(np.float32))
        classes64.tofile(os.path.join(out, "cases", f"{name}.stitched.classes.u8"))
        margin.tofile(os.path.join(out, "cases", f"{name}.stitched.margin.f32"))
        p64 = torch.softmax(l64, 1).numpy()
        np.stack([stitch(p64[:, c]) for c in range(classes)]).tofile(
            os.path.join(out, "cases", f"{name}.stitched.probabilities.f64"))
        blended64 = blend(p64)
        blended_classes = blended64.argmax(0).astype(np.uint8)
        top2 = np.sort(blended64, axis=0)[-2:]
        blended_classes.tofile(os.path.join(out, "cases", f"{name}.blended.classes.u8"))
        blended64.tofile(os.path.join(out, "cases", f"{name}.blended.probabilities.f64"))
        (top2[1] - top2[0]).astype(np.float32).tofile(os.path.join(out, "cases", f"{name}.blended.margin.f32"))
        blended32 = blend(torch.softmax(l32, 1).numpy().astype(np.float64)).argmax(0)
        blend_counts = np.bincount(blended_classes.flatten(), minlength=classes)
        assert blend_counts.min() > 0, (name, blend_counts)
        entry["blended"] = {"torch_f32_pixel_disagreements": int((blended32 != blended_classes).sum()),
                            "near_ties": int((top2[1] - top2[0] < 1e-3).sum()),
                            "pixels_unlike_stitched": int((blended_classes != classes64).sum()),
                            "class_share": (blend_counts / blend_counts.sum()).tolist()}
        counts = np.bincount(classes64.flatten(), minlength=classes)
        entry.update(shape=[1, x.shape[1], SIZE, SIZE], windows_shape=list(x.shape),
                     source="rgbn.tif" if x.shape[1] == 4 else os.path.basename(neon),
                     torch_f32_pixel_agreement=float((classes32 == classes64).mean()),
                     torch_f32_pixel_disagreements=int((classes32 != classes64).sum()),
                     torch_f32_max_relative_error=max(compare(l64[i:i + 1], l32[i:i + 1])
                                                      ["torch_f32_max_relative_error"] for i in range(len(x))),
                     near_ties=int((margin < 1e-3).sum()), class_share=(counts / counts.sum()).tolist(),
                     top1_probability_median=torch.softmax(l64, 1).max(1).values.median().item())
        assert counts.min() > 0, (name, counts)
    assert entry["top1_probability_median"] < 0.95, entry
    manifest["cases"].append(entry)
    log(f"{name}.{case}: f32 agreement {entry['torch_f32_pixel_agreement']:.6f}, "
        f"relative error {entry['torch_f32_max_relative_error']:.2e}, near ties {entry['near_ties']}, "
        f"class shares {[round(s, 3) for s in entry['class_share']]}, "
        f"median top-1 {entry['top1_probability_median']:.3f}")
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
log("done")
