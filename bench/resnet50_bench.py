"""ResNet50 throughput: mgpr's CPU engine against PyTorch eager, same weights, same threads.

For 224 and 1024 px tiles, batch 1 and 8, f32 and bf16, in one run, turn by turn:
  mgpr     mgpr model=resnet50 on dummy tiles (no delay); tiles/s = tiles / the devices'
           busy seconds (normalisation + forward pass, from summary.json), so the
           dummy tiles' generation is not counted;
  pytorch  torchvision's resnet50 with the same state_dict, torch.inference_mode(),
           torch.set_num_threads(THREADS), normalisation + forward on a ready batch;
           bf16 through torch.autocast("cpu", dtype=torch.bfloat16).
Also GFLOP/s (2 x multiply-adds of every convolution and linear layer, counted from the
model) against this machine's peak (cores x GHz x 64 f32 FLOP/cycle with two AVX-512
FMA units; x 1024 bf16 FLOP/cycle where AMX is present), both estimates.
Run: bench/resnet50.sh (WEIGHTS=path to use your own; default: a seeded state_dict;
SIZES="224", BATCHES="1", SECONDS_PER_POINT=1 for fewer, shorter points).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MGPR = os.path.join(ROOT, ".build/release/mgpr")
THREADS = int(os.environ.get("THREADS", os.cpu_count()))
SECONDS = float(os.environ.get("SECONDS_PER_POINT", 4))
SIZES = [int(v) for v in os.environ.get("SIZES", "224 1024").split()]
BATCHES = [int(v) for v in os.environ.get("BATCHES", "1 8").split()]
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def flops(model, size):
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            total += 2 * output.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, torch.nn.Linear):
            total += 2 * output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.inference_mode():
        model(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return total


def mgpr(weights, size, batch, precision, tiles, run_dir):
    subprocess.run(
        [MGPR, "model=resnet50", f"weights={weights}", "use_fake_data=true", "dummy_dataset_delay=0",
         f"dummy_dataset_count={tiles}", f"tile_size={size}", f"batch_size={batch}", f"precision={precision}",
         "workers=1", f"cpu_threads={THREADS}", "accelerator=cpu", "output=none", f"run_dir={run_dir}"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(run_dir, "summary.json")) as f:
        s = json.load(f)
    return s["tiles"] / s["busy_seconds"]


def pytorch(model, size, batch, bf16):
    x = torch.rand(batch, 3, size, size)

    def once():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model((x - MEAN) / STD)

    once()  # warm-up
    runs, start = 0, time.perf_counter()
    while runs == 0 or time.perf_counter() - start < SECONDS:
        once()
        runs += 1
    return runs * batch / (time.perf_counter() - start)


def main():
    torch.set_num_threads(THREADS)
    ghz = float(next(l for l in open("/proc/cpuinfo") if l.startswith("cpu MHz")).split(":")[1]) / 1000
    amx = "amx_bf16" in open("/proc/cpuinfo").read()
    peak = {"f32": THREADS * ghz * 64, "bf16": THREADS * ghz * (1024 if amx else 64)}
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.environ.get("WEIGHTS")
        model = torchvision.models.resnet50(weights=None)
        if weights:
            model.load_state_dict(torch.load(weights))
        else:
            torch.manual_seed(0)
            weights = os.path.join(tmp, "resnet50.pth")
            torch.save(model.state_dict(), weights)
        model.eval()
        print(f"torch {torch.__version__}, {THREADS} threads, {ghz:.2f} GHz, peak estimate {peak['f32']:.0f} GFLOP/s f32, "
              f"{peak['bf16']:.0f} bf16{' (AMX)' if amx else ''}; tiles/s (GFLOP/s, % of peak)")
        print(f"{'size':>5} {'batch':>5} {'prec':>5} | {'mgpr':>22} | {'pytorch':>22} | {'mgpr/pytorch':>12}")
        for size in SIZES:
            work = flops(model, size) / 1e9
            for batch in BATCHES:
                for precision in ("f32", "bf16"):
                    tiles = max(batch, int(SECONDS * (200 if size == 224 else 8) / (1 if precision == "f32" else 0.5)) // batch * batch)
                    ours = mgpr(weights, size, batch, "32" if precision == "f32" else "bf16-mixed", tiles,
                                os.path.join(tmp, f"run-{size}-{batch}-{precision}"))
                    theirs = pytorch(model, size, batch, precision == "bf16")

                    def cell(rate):
                        return f"{rate:7.2f} ({rate * work:5.0f}, {100 * rate * work / peak[precision]:3.0f}%)"

                    print(f"{size:>5} {batch:>5} {precision:>5} | {cell(ours):>22} | {cell(theirs):>22} | {ours / theirs:>12.2f}",
                          flush=True)


if __name__ == "__main__":
    sys.exit(main())
