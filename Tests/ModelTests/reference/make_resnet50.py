"""Reference outputs for ModelTests, from torchvision's own resnet50 (CPU).

usage: make_resnet50.py OUT_DIR NEON_CROP.tif

Writes to OUT_DIR:
  resnet50.pth, resnet50.safetensors   one seeded model's state_dict, both formats
  cases/<name>.input.f32, .logits.f64  raw [0, 1] NCHW inputs (float32, what mgpr is
                                       given) and torchvision's logits computed in float64
                                       (float32 itself misses near-ties that float64 settles)
  manifest.json                        the cases: shapes and files
  hostile/*.pth                        files the restricted unpickler must refuse

A freshly initialised network is a weak oracle: its BatchNorm statistics let
activations grow through 50 layers and the softmax saturates. So BatchNorm is first
given realistic running statistics (forward passes in train mode over real and random
images, cumulative averages), and the classifier is scaled so that top-1 probabilities
land well inside (0, 1) (median near 0.5).
"""
import copy
import json
import os
import struct
import sys

import numpy as np
import rasterio
import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../scripts/reference"))
from seeded import calibrate_batchnorm, scale_linear, scale_to  # noqa: E402

out, neon = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "cases"), exist_ok=True)
os.makedirs(os.path.join(out, "hostile"), exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(os.cpu_count())
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def normalize(x):
    return (x - MEAN) / STD


with rasterio.open(neon) as ds:
    # Values as stored, no mask: what the seed (and mgpr by default) feed the model.
    crop = torch.from_numpy(ds.read((1, 2, 3)).astype(np.float32) / 255).unsqueeze(0)
g = torch.Generator().manual_seed(1)


def neon_crops(n, size):
    """Random size x size crops of the real orthophoto, flipped at random."""
    images = []
    for _ in range(n):
        r, c = torch.randint(0, 400 - size + 1, (2,), generator=g).tolist()
        x = crop[:, :, r:r + size, c:c + size]
        if torch.rand(1, generator=g).item() < 0.5:
            x = x.flip(3)
        images.append(x)
    return torch.cat(images)


def smooth_noise(n, size):
    """Image-like random inputs: low-resolution noise upsampled."""
    low = torch.rand(n, 3, size // 16, size // 16, generator=g)
    return torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)


model = torchvision.models.resnet50(weights=None)
# Calibrate BatchNorm: cumulative averages over real and random images.
calibrate_batchnorm(model, lambda: [model(normalize(torch.cat([neon_crops(6, 224), smooth_noise(6, 224)]))) for _ in range(4)])

# Scale the classifier so the median top-1 probability is about 0.5.
probe = normalize(torch.cat([neon_crops(16, 224), smooth_noise(16, 224)]))
with torch.no_grad():
    features = torch.flatten(model.avgpool(model.layer4(model.layer3(model.layer2(model.layer1(
        model.maxpool(model.relu(model.bn1(model.conv1(probe))))))))), 1)
    k = scale_to(lambda k: torch.softmax(k * model.fc(features), 1).max(1).values.median().item(), 0.5, 1e-3, 1e3)
scale_linear(model.fc, k)

state = model.state_dict()
torch.save(state, os.path.join(out, "resnet50.pth"))


def save_safetensors(tensors, path):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)


save_safetensors(state, os.path.join(out, "resnet50.safetensors"))

cases = {
    "noise_224_b1": smooth_noise(1, 224),
    "neon_224_b3": neon_crops(3, 224),
    "noise_1024_b1": smooth_noise(1, 1024),
    "geotiff_tile_400": crop,
    "agreement_224_b100": torch.cat([neon_crops(60, 224), smooth_noise(40, 224)]),
}
model64 = copy.deepcopy(model).double()
manifest = {"classes": 1000, "cases": []}
with torch.inference_mode():
    for name, x in cases.items():
        logits = torch.cat([model64(normalize(x[i:i + 10].double())) for i in range(0, len(x), 10)])
        x.numpy().astype(np.float32).tofile(os.path.join(out, "cases", f"{name}.input.f32"))
        logits.numpy().astype(np.float64).tofile(os.path.join(out, "cases", f"{name}.logits.f64"))
        p = torch.softmax(logits, 1).max(1).values
        entry = {"name": name, "shape": list(x.shape), "top1_probability_median": p.median().item()}
        if name.startswith("agreement"):
            # PyTorch's own bf16 (autocast) against float64: the bar mgpr's bf16 is held to.
            with torch.autocast("cpu", dtype=torch.bfloat16):
                low = torch.cat([model(normalize(x[i:i + 10])).float() for i in range(0, len(x), 10)])
            entry["torch_bf16_top1_agreement"] = (low.argmax(1) == logits.argmax(1)).sum().item()
            relative = (low.double() - logits).abs().max(1).values / logits.abs().max(1).values
            entry["torch_bf16_median_relative_error"] = relative.median().item()
        manifest["cases"].append(entry)
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)


# Files the unpickler must refuse or report.
class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


small = {"w": torch.ones(2, 2)}
torch.save({"w": torch.ones(2), "x": Evil()}, os.path.join(out, "hostile", "runs_code.pth"))
torch.save(torch.nn.Linear(2, 2), os.path.join(out, "hostile", "whole_module.pth"))
torch.save({"w": torch.ones(3, dtype=torch.complex64)}, os.path.join(out, "hostile", "complex_dtype.pth"))
torch.save({"w": torch.ones(3, dtype=torch.int16)}, os.path.join(out, "hostile", "int16_dtype.pth"))
torch.save({"w": torch.arange(12.0).view(3, 4).t()}, os.path.join(out, "hostile", "strided.pth"))
with open(os.path.join(out, "resnet50.pth"), "rb") as f:
    whole = f.read()
with open(os.path.join(out, "hostile", "truncated.pth"), "wb") as f:
    f.write(whole[: len(whole) // 2])
print(json.dumps(manifest))
