"""Segmentation throughput and memory: mgpr against PyTorch eager, same weights, tiles, threads.

For each model, tile size, batch size and precision, in one run, turn by turn:
  mgpr     mgpr model=... on dummy tiles (no delay, output=none); tiles/s = tiles / the
           devices' busy seconds from summary.json (normalisation, network, per-pixel argmax);
  pytorch  the same network (torchvision's deeplabv3_resnet50 / fcn_resnet50, smp's
           Unet('resnet34')) with the same state_dict, torch.inference_mode(),
           torch.set_num_threads(THREADS), normalisation + forward + argmax on a ready
           batch; bf16 through torch.autocast("cpu", dtype=torch.bfloat16).
Peak memory is each process's peak resident set (wait4's ru_maxrss), mgpr's including
its reader threads and batches.
Run: bench/segmentation.sh (SIZES, BATCHES, MODELS, SECONDS_PER_POINT, THREADS).
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MGPR = os.path.join(ROOT, ".build/release/mgpr")
SMP = os.path.join(ROOT, ".fixtures/smp/site")
THREADS = int(os.environ.get("THREADS", os.cpu_count()))
SECONDS = float(os.environ.get("SECONDS_PER_POINT", 4))
SIZES = [int(v) for v in os.environ.get("SIZES", "512").split()]
BATCHES = [int(v) for v in os.environ.get("BATCHES", "1 4").split()]
MODELS = os.environ.get("MODELS", "deeplabv3 fcn unet").split()

# Runs in a child process: builds the model, saves its state_dict (first call) or
# loads it, then times normalisation + forward + argmax; prints tiles/s.
TORCH = r"""
import os, sys, time, torch
name, weights, size, batch, bf16, seconds, threads, smp = sys.argv[1:9]
size, batch, bf16, seconds = int(size), int(batch), bf16 == "1", float(seconds)
torch.set_num_threads(int(threads))
torch.manual_seed(0)
if name == "unet":
    sys.path.insert(0, smp)
    import segmentation_models_pytorch
    model = segmentation_models_pytorch.Unet("resnet34", encoder_weights=None, in_channels=3, classes=21)
else:
    import torchvision
    make = {"deeplabv3": torchvision.models.segmentation.deeplabv3_resnet50,
            "fcn": torchvision.models.segmentation.fcn_resnet50}[name]
    model = make(weights=None, weights_backbone=None, num_classes=21, aux_loss=False)
if os.path.exists(weights):
    model.load_state_dict(torch.load(weights))
else:
    torch.save(model.state_dict(), weights)
model.eval()
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
x = torch.rand(batch, 3, size, size)
def once():
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model((x - mean) / std)
        out = out["out"] if isinstance(out, dict) else out
        out.argmax(1)
once()
runs, start = 0, time.perf_counter()
while runs == 0 or time.perf_counter() - start < seconds:
    once()
    runs += 1
print(runs * batch / (time.perf_counter() - start))
"""


def child(arguments, capture=False):
    """Runs a child; returns (its stdout, its peak resident set in GB)."""
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = process.stdout.read().decode() if capture else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{arguments[0]} {' '.join(arguments[1:3])} failed with status {process.returncode}")
    return out, usage.ru_maxrss / 1e6


def pytorch(name, weights, size, batch, bf16):
    out, peak = child([sys.executable, "-c", TORCH, name, weights, str(size), str(batch), "1" if bf16 else "0",
                       str(SECONDS), str(THREADS), SMP], capture=True)
    return float(out.strip().splitlines()[-1]), peak


def mgpr(name, weights, size, batch, precision, tiles, run_dir):
    _, peak = child([MGPR, f"model={name}", f"weights={weights}", "use_fake_data=true", "dummy_dataset_delay=0",
                     f"dummy_dataset_count={tiles}", f"tile_size={size}", f"batch_size={batch}", f"precision={precision}",
                     "workers=1", f"cpu_threads={THREADS}", "accelerator=cpu", "output=none", f"run_dir={run_dir}"])
    with open(os.path.join(run_dir, "summary.json")) as f:
        s = json.load(f)
    return s["tiles"] / s["busy_seconds"], peak


def main():
    import torch
    bf16 = "avx512_bf16" in open("/proc/cpuinfo").read() or "amx_bf16" in open("/proc/cpuinfo").read()
    print(f"torch {torch.__version__}, {THREADS} threads; tiles/s and peak resident memory (GB)"
          + ("" if bf16 else "; no native bf16 on this CPU: bf16 rows skipped"))
    print(f"{'model':>10} {'size':>5} {'batch':>5} {'prec':>5} | {'mgpr':>15} | {'pytorch':>15} | {'speed':>6} {'memory':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            if name == "unet" and not os.path.isdir(SMP):
                print(f"{name:>10}: skipped: segmentation_models_pytorch is not in {SMP} (scripts/fixtures.sh puts it there)")
                continue
            weights = os.path.join(tmp, f"{name}.pth")
            for size in SIZES:
                for batch in BATCHES:
                    for precision in ("f32", "bf16") if bf16 else ("f32",):
                        theirs, their_peak = pytorch(name, weights, size, batch, precision == "bf16")
                        tiles = max(batch, int(theirs * SECONDS * 2) // batch * batch)
                        ours, our_peak = mgpr(name, weights, size, batch, "32" if precision == "f32" else "bf16-mixed", tiles,
                                              os.path.join(tmp, f"run-{name}-{size}-{batch}-{precision}"))
                        print(f"{name:>10} {size:>5} {batch:>5} {precision:>5} | {ours:7.2f} ({our_peak:5.2f}) | "
                              f"{theirs:7.2f} ({their_peak:5.2f}) | {ours / theirs:5.2f}x {our_peak / their_peak:5.2f}x", flush=True)


if __name__ == "__main__":
    sys.exit(main())
