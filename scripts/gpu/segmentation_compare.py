"""Holds mgpr's segmentation logits (`mgpr forward model=deeplabv3|fcn|unet`) on the CPU
and the GPU to PyTorch's float64 on the same weights and pixels, beside PyTorch's own
float32, TF32 and autocast, for a case made by segmentation_case.py. Prints a table;
exit status 1 if a check fails or a file is missing.

usage: segmentation_compare.py --case DIR
       (reads DIR/MODEL.torch_*.npy and DIR/MODEL.mgpr_{cpu,f32,tf32,f16,bf16}.npy)

Per run: the largest |logit - float64's| over the largest |float64 logit|, and the
share of pixels whose class differs from float64's.
  cpu, gpu f32     within max(1e-4, 2x PyTorch float32's) and >= 99.9% of pixels the
                   same class (the CPU tests' bar)
  tf32, f16, bf16  within 3x PyTorch's own at that precision (TF32, autocast), and
                   agreement no more than 1 point below PyTorch's
"""
import argparse
import os
import sys

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--case", required=True)
args = parser.parse_args()
failed = []


def load(name):
    path = os.path.join(args.case, name)
    if not os.path.exists(path):
        print(f"MISSING {path}")
        failed.append(name)
        return None
    return np.load(path).astype(np.float64)


def measure(run, reference):
    error = np.abs(run - reference).max() / np.abs(reference).max()
    agreement = (run.argmax(1) == reference.argmax(1)).mean()
    return error, agreement


for model in ["deeplabv3", "fcn", "unet"]:
    reference = load(f"{model}.torch_f64.npy")
    if reference is None:
        continue
    print(f"{model}: logits {list(reference.shape)}, error = max |x - f64| / max |f64|, agreement = pixels of f64's class")
    torch_runs = {label: load(f"{model}.torch_{label}.npy") for label in ["f32", "tf32", "f16", "bf16"]}
    torch_stats = {label: measure(run, reference) for label, run in torch_runs.items() if run is not None}
    for label, (error, agreement) in torch_stats.items():
        print(f"  {'PyTorch ' + label:16} error {error:9.2e}  agreement {agreement:.6f}")
    for label in ["cpu", "f32", "tf32", "f16", "bf16"]:
        run = load(f"{model}.mgpr_{label}.npy")
        if run is None:
            continue
        if run.shape != reference.shape:
            print(f"  mgpr {label}: shape {list(run.shape)}, expected {list(reference.shape)}")
            failed.append(f"{model} {label}")
            continue
        error, agreement = measure(run, reference)
        if label in ("cpu", "f32"):
            bound = max(1e-4, 2 * torch_stats.get("f32", (0, 1))[0])
            ok = error <= bound and agreement >= 0.999
            bar = f"<= {bound:.2e}, >= 0.999"
        else:
            torch_error, torch_agreement = torch_stats.get(label, (float("nan"), float("nan")))
            ok = error <= 3 * torch_error and agreement >= torch_agreement - 0.01
            bar = f"<= 3x PyTorch's, >= {torch_agreement - 0.01:.4f}"
        print(f"  {'mgpr ' + label:16} error {error:9.2e}  agreement {agreement:.6f}  {'ok' if ok else 'FAILED'} ({bar})")
        if not ok:
            failed.append(f"{model} {label}")
if failed:
    print(f"FAILED: {', '.join(failed)}")
    sys.exit(1)
print("all checks passed")
