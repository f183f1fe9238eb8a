"""PyTorch's own ResNet50 logits for a case made by resnet50_case.py, in every precision
mgpr is checked in.

usage: resnet50_reference.py --case DIR [--device cuda|cpu] [--chunk 64]

Reads DIR/resnet50.pth and DIR/inputs.npy ([N, 3, H, W] pixels in [0, 1]), normalises
them as torchvision's ImageNet transforms do ((x - mean) / std, in the pass's dtype),
and writes to DIR, each [N, 1000] (float64 for the first, float32 the others):
  torch_f64.npy   the oracle: model and input in float64, on the device if its
                  convolutions run in float64 there, else on the CPU
  torch_f32.npy   float32, TF32 off for cuDNN convolutions and cuBLAS matmuls
                  (torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32
                  = False)
  torch_tf32.npy  float32, TF32 on (what PyTorch does by default for convolutions)
  torch_f16.npy   torch.autocast(device, dtype=float16) over the float32 model (CUDA
                  only: skipped on the CPU), logits cast to float32
  torch_bf16.npy  the same with bfloat16
  reference.json  versions, devices, the TF32 settings read back, and each output's
                  relative error against float64 (a check that the TF32 switch took:
                  f32 should be ~1e-6, tf32 ~1e-3)
Batches of --chunk inputs (64), one at a time, so 1024 px cases fit too.
"""
import argparse
import copy
import json
import os

import numpy as np
import torch
import torchvision

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def set_tf32(on):
    """Switch TF32 for cuDNN convolutions and cuBLAS matmuls; returns the settings read
    back. The legacy allow_tf32 flags, deprecated since PyTorch 2.9 (a warning) but
    consistent: in 2.11 their setters update the new per-backend fp32_precision state
    too, whereas setting only the new API leaves the legacy state behind and PyTorch
    then refuses (RuntimeError) to read the mix."""
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on
    state = {"cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
             "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32}
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # PyTorch >= 2.9
        state["cuda.matmul.fp32_precision"] = torch.backends.cuda.matmul.fp32_precision
        state["cudnn.conv.fp32_precision"] = torch.backends.cudnn.conv.fp32_precision
    return state


def forward(model, x, device, dtype, chunk, autocast=None):
    """Logits for all of x, chunk by chunk, normalised in `dtype` on `device`."""
    mean = torch.tensor(MEAN, dtype=dtype, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=dtype, device=device).view(1, 3, 1, 1)
    out = []
    with torch.inference_mode():
        for i in range(0, len(x), chunk):
            batch = (x[i:i + chunk].to(device=device, dtype=dtype) - mean) / std
            if autocast is None:
                logits = model(batch)
            else:
                with torch.autocast(device_type=device.type, dtype=autocast):
                    logits = model(batch)
            out.append(logits.float().cpu() if autocast is not None else logits.cpu())
    return torch.cat(out)


def relative_error(a, b):
    """||a - b|| / ||b|| over all logits, in float64."""
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--chunk", type=int, default=64)
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = False  # same algorithms every run

    model = torchvision.models.resnet50(weights=None, num_classes=1000)
    model.load_state_dict(torch.load(os.path.join(args.case, "resnet50.pth"), map_location="cpu"))
    model.eval()
    x = torch.from_numpy(np.load(os.path.join(args.case, "inputs.npy")))
    assert x.dtype == torch.float32 and x.dim() == 4 and x.shape[1] == 3, x.shape
    info = {"torch": torch.__version__, "torchvision": torchvision.__version__, "device": str(device),
            "inputs": list(x.shape), "chunk": args.chunk}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cudnn"] = torch.backends.cudnn.version()
    outputs = {}

    # float64: on the device if it can (cuDNN and PyTorch's fallbacks cover float64
    # convolutions on CUDA), else on the CPU (slower, same answer).
    model64 = copy.deepcopy(model).double()
    try:
        outputs["f64"] = forward(model64.to(device), x, device, torch.float64, args.chunk)
        info["f64_device"] = str(device)
    except RuntimeError as e:
        print(f"float64 on {device} failed ({str(e).splitlines()[0]}); float64 on the CPU")
        cpu = torch.device("cpu")
        outputs["f64"] = forward(model64.to(cpu), x, cpu, torch.float64, args.chunk)
        info["f64_device"] = "cpu"
    del model64
    np.save(os.path.join(args.case, "torch_f64.npy"), outputs["f64"].numpy().astype(np.float64))

    model = model.to(device)
    runs = [("f32", False, None), ("tf32", True, None), ("bf16", False, torch.bfloat16)]
    if device.type == "cuda":
        runs.insert(2, ("f16", False, torch.float16))
    for name, tf32, autocast in runs:
        if device.type == "cuda":
            info[f"{name}_tf32_setting"] = set_tf32(tf32)
        # On the CPU TF32 does not exist: torch_tf32 equals torch_f32 there.
        outputs[name] = forward(model, x, device, torch.float32, args.chunk, autocast)
        np.save(os.path.join(args.case, f"torch_{name}.npy"), outputs[name].numpy().astype(np.float32))
    if device.type == "cuda":
        set_tf32(False)

    # Summary: errors against float64, and top-1 agreement with float64 and with float32
    # (the latter is what resnet50_compare.py holds mgpr's f16/bf16 to).
    f64, f32 = outputs["f64"], outputs["f32"]
    info["vs_f64"] = {}
    print(f"{'output':>6} {'rel. error vs f64':>18} {'top-1 = f64':>12} {'top-1 = f32':>12}")
    for name, out in outputs.items():
        err = relative_error(out, f64)
        agree64 = int((out.argmax(1) == f64.argmax(1)).sum())
        agree32 = int((out.argmax(1) == f32.argmax(1)).sum())
        info["vs_f64"][name] = {"relative_error": err, "top1_agreement": agree64, "top1_agreement_f32": agree32}
        print(f"{name:>6} {err:18.3e} {agree64:>8}/{len(x)} {agree32:>8}/{len(x)}")
    with open(os.path.join(args.case, "reference.json"), "w") as f:
        json.dump(info, f, indent=1)


if __name__ == "__main__":
    main()
