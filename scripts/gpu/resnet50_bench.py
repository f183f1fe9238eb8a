"""PyTorch's ResNet50 inference throughput on one GPU, as a fast user would run it:
the bar for mgpr's GPU engine.

usage: resnet50_bench.py --json OUT.json [--budget-seconds 150] [--device cuda]
         [--cases 224x64,224x256,1024x8,1024x16] [--compile-cases 224x256,1024x16]
         [--dtypes float16,bfloat16] [--runs 5] [--run-seconds 0.3]
  e.g. on a CPU, to see it run: --device cpu --cases 64x2 --compile-cases 64x2 --dtypes bfloat16

For each case (SIZExBATCH) and dtype: torchvision resnet50 with random weights (timing
only), ImageNet normalisation + forward as one module, torch.autocast(dtype) over the
float32 model, model and input channels_last, torch.inference_mode(),
cudnn.benchmark=True. Rows:
  eager     input already on the device (the network's throughput);
  eager+h2d the 224x256 float16 case again, with each batch's float32 pixels copied from
            pinned host memory first (non_blocking), so the data path is visible;
  compile   torch.compile(default mode) for --compile-cases; its compile time (the first
            call) is reported as compile_s and not counted; failures are reported.
Each: warm-up calls, then --runs timed runs of about --run-seconds each (CUDA events on
a GPU), images/s = the median run's. The whole script stays within --budget-seconds:
a case whose expected time (its kind's last duration; at first 5 s eager, 25 s compile)
would overrun it is skipped and marked so. Eager rows come first, compile rows (the
slowest to get: ~30-60 s each on a fresh machine) last, the first dtype's sizes first.
Writes OUT.json (rewritten after every row, so a killed run keeps its rows): a JSON list
of rows {framework, mode, size, batch, dtype, images_per_s, compile_s, ms_per_batch,
status, device, torch}; images_per_s is null for skipped or failed rows.
"""
import argparse
import json
import statistics
import time

import torch
import torchvision

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
T0 = time.perf_counter()


class Normalised(torch.nn.Module):
    """(x - mean) / std, then the network: what a user's inference step does."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x):
        return self.model((x - self.mean) / self.std)


def cases(text):
    return [tuple(int(v) for v in c.split("x")) for c in text.split(",") if c]


def autocast_works(device, dtype):
    """torch 1.13's CPU autocast ignores float16 with a warning (runs float32): check
    that a convolution really comes out in dtype."""
    conv = torch.nn.Conv2d(3, 3, 1).to(device)
    try:
        with torch.inference_mode(), torch.autocast(device_type=device.type, dtype=dtype):
            return conv(torch.rand(1, 3, 4, 4, device=device)).dtype == dtype
    except Exception:
        return False


def timed(step, device, batch, runs, run_seconds):
    """Median images/s over `runs` runs of n steps each, n sized from a warm-up step."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(2):
        step()
    sync()
    start = time.perf_counter()
    step()
    sync()
    n = max(1, round(run_seconds / max(time.perf_counter() - start, 1e-6)))
    rates = []
    for _ in range(runs):
        if device.type == "cuda":
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            for _ in range(n):
                step()
            end.record()
            end.synchronize()
            seconds = begin.elapsed_time(end) / 1000
        else:
            begin = time.perf_counter()
            for _ in range(n):
                step()
            seconds = time.perf_counter() - begin
        rates.append(n * batch / seconds)
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", required=True)
    ap.add_argument("--budget-seconds", type=float, default=150)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--cases", default="224x64,224x256,1024x8,1024x16")
    ap.add_argument("--compile-cases", default="224x256,1024x16", help="'' for none")
    ap.add_argument("--dtypes", default="float16,bfloat16")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--run-seconds", type=float, default=0.3)
    args = ap.parse_args()
    device = torch.device(args.device)
    dtypes = [getattr(torch, d) for d in args.dtypes.split(",")]
    torch.backends.cudnn.benchmark = True  # per-shape algorithm search, in the warm-up
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"torch {torch.__version__}, {name}, budget {args.budget_seconds:.0f} s")

    torch.manual_seed(0)
    net = Normalised(torchvision.models.resnet50(weights=None)).to(device).eval()
    net = net.to(memory_format=torch.channels_last)

    plan = [("eager", s, b, d) for s, b in cases(args.cases) for d in dtypes]
    if torch.float16 in dtypes:
        plan.append(("eager+h2d", 224, 256, torch.float16))
    # Compile rows dtype by dtype: if the budget runs out, the first dtype has every size.
    plan += [("compile", s, b, d) for d in dtypes for s, b in cases(args.compile_cases)]
    # Seconds a row is expected to take, until one of its kind is measured. A first
    # compile's cost is unknown (a fresh machine has no inductor cache): the guess is
    # low so that one is tried whenever a fair share of the budget is left.
    expected = {"eager": 5.0, "eager+h2d": 5.0, "compile": 25.0}
    rows = []
    print(f"{'mode':<10} {'size':>5} {'batch':>5} {'dtype':<9} {'images/s':>9} {'ms/batch':>9} {'compile_s':>9}  status")
    for mode, size, batch, dtype in plan:
        row = {"framework": "pytorch", "mode": mode, "size": size, "batch": batch,
               "dtype": str(dtype).replace("torch.", ""), "images_per_s": None, "compile_s": None,
               "ms_per_batch": None, "status": "ok", "device": name, "torch": torch.__version__}
        began = time.perf_counter()
        if began - T0 + expected[mode] > args.budget_seconds:
            row["status"] = f"skipped: would pass the {args.budget_seconds:.0f} s budget"
        elif mode == "eager+h2d" and device.type != "cuda":
            row["status"] = "skipped: no host-to-device copy without a GPU"
        elif not autocast_works(device, dtype):
            row["status"] = f"skipped: no {row['dtype']} autocast on {device.type} in torch {torch.__version__}"
        else:
            try:
                run_case(row, net, device, mode, size, batch, dtype, args)
            except Exception as e:  # e.g. torch.compile missing or failing: reported, not fatal
                row["status"] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            expected[mode] = time.perf_counter() - began
            if device.type == "cuda":
                torch.cuda.empty_cache()
        rows.append(row)
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)

        def fmt(v, spec):
            return format(v, spec) if v is not None else "-"

        print(f"{mode:<10} {size:>5} {batch:>5} {row['dtype']:<9} {fmt(row['images_per_s'], '9.1f'):>9} "
              f"{fmt(row['ms_per_batch'], '9.2f'):>9} {fmt(row['compile_s'], '9.1f'):>9}  {row['status']}", flush=True)
    print(f"total {time.perf_counter() - T0:.0f} s; rows in {args.json}")


def run_case(row, net, device, mode, size, batch, dtype, args):
    pixels = torch.rand(batch, 3, size, size)
    if mode == "eager+h2d":
        host = pixels.pin_memory()  # a DataLoader's pin_memory=True batch, NCHW float32

        def step():
            x = host.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device.type, dtype=dtype):
                return net(x)
    else:
        x = pixels.to(device).contiguous(memory_format=torch.channels_last)
        model = net
        if mode == "compile":
            if not hasattr(torch, "compile"):
                raise RuntimeError(f"torch.compile does not exist in torch {torch.__version__}")
            torch._dynamo.reset()  # a fresh, static-shape compile per case
            model = torch.compile(net)

        def step():
            with torch.autocast(device_type=device.type, dtype=dtype):
                return model(x)

        if mode == "compile":
            start = time.perf_counter()
            with torch.inference_mode():
                step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            row["compile_s"] = time.perf_counter() - start
    with torch.inference_mode():
        rate = timed(step, device, batch, args.runs, args.run_seconds)
    row["images_per_s"] = rate
    row["ms_per_batch"] = 1000 * batch / rate


if __name__ == "__main__":
    main()
