"""CPU throughput: mgpr against OpenVINO, ONNX Runtime and current PyTorch, on one table.

Rows (ROWS to choose, e.g. ROWS="resnet50-1024-1 fasterrcnn-1024-1"):
  resnet50-224-1, resnet50-224-8, resnet50-1024-1, resnet50-1024-8   classifier, px, batch
  fasterrcnn-1024-1, retinanet-1024-1                              detectors, 1024 px tiles
each in f32, and in bf16 where the CPU has native bf16 (AVX512-BF16 or AMX; PRECISIONS to
choose). Every runtime gets the same seeded weights (torch.manual_seed(0)), the same tiles
(a 2048 px image from mgpr-test-image, read as float /255; mgpr's classifier rows run on
its dummy tiles, as a classifier's time does not depend on the pixels) and THREADS threads:
  mgpr         the `mgpr` command on the weights' .pth: tiles / the device's busy seconds
               (normalisation and network; for detectors also the transform, proposals,
               RoIAlign and post-processing) from the run's per-batch metrics, its first
               batch left out as the peers leave out their two warm-up inferences (it
               touches the arena's pages: half of a two-batch row's time otherwise);
  openvino     the ONNX graph compiled for "CPU", INFERENCE_NUM_THREADS=THREADS,
               INFERENCE_PRECISION_HINT f32 or bf16, PERFORMANCE_HINT LATENCY;
  onnxruntime  the same ONNX graph, intra_op_num_threads=THREADS, all graph
               optimisations; f32 only (its CPU provider has no bf16 path);
  pytorch      torchvision's model in eager mode, inference_mode, set_num_threads,
               bf16 through torch.autocast("cpu").
The ONNX graphs are exported by the same torch (TorchScript exporter, opset 17) with the
classifier's normalisation inside, and the detectors whole (transform, RPN or anchors,
NMS); static shapes. Each measurement is its own process, so its peak RSS is its own; a
row's runtimes take turns (ROUNDS rounds, SECONDS_PER_POINT seconds each after warm-up)
and each cell is the median. tiles/s is what to compare; "x OV" is mgpr over OpenVINO.

The % column is of the machine's FLOP peak, measured: bench/fma_peak.c, compiled here
(cc -O3 -march=native -fopenmp), runs independent float32 fused multiply-adds on
registers at the widest vector the CPU has on THREADS threads. bf16's peak is twice that
with AVX512-BF16 (each dot product instruction does two multiply-adds per float32 lane)
and 16x with AMX. The nominal peak, cores x nominal GHz x FLOP per cycle, is printed
beside it; it undercounts a CPU that boosts above its nominal clock. FLOPs are 2 x
multiply-adds of every convolution and linear layer, counted from the model at the size
its network sees (a detector's 1024 px tile is resized to 800).
Run: bench/cpu-peers.sh
"""
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build/release")
THREADS = int(os.environ.get("THREADS", os.cpu_count()))
SECONDS = float(os.environ.get("SECONDS_PER_POINT", 4))
ROUNDS = int(os.environ.get("ROUNDS", 3))
ROWS = os.environ.get("ROWS", "resnet50-224-1 resnet50-224-8 resnet50-1024-1 resnet50-1024-8 "
                              "fasterrcnn-1024-1 retinanet-1024-1").split()
IMAGE = 2048
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def cpu_flags():
    return set(next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split(":")[1].split())


def native_bf16():
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


# ---------------------------------------------------------------- in the peers' virtualenv

def build_model(name):
    import torch
    import torchvision
    torch.manual_seed(0)
    if name == "resnet50":
        return torchvision.models.resnet50(weights=None).eval()
    if name == "fasterrcnn":
        return torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
    return torchvision.models.detection.retinanet_resnet50_fpn(weights=None, weights_backbone=None).eval()


class Normalized:
    """The classifier with its normalisation, as mgpr runs it (pixels in [0, 1] in)."""

    def __new__(cls, model):
        import torch

        class Module(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model
                self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
                self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

            def forward(self, x):
                return self.model((x - self.mean) / self.std)

        return Module().eval()


def prepare(work):
    """Weights (.pth) and the static-shape ONNX graph of every row, plus their FLOPs."""
    import warnings

    import torch
    warnings.filterwarnings("ignore")
    flops = {}
    for row in ROWS:
        name, size, batch = row.split("-")
        size, batch = int(size), int(batch)
        model = build_model(name)
        weights = os.path.join(work, f"{name}.pth")
        if not os.path.exists(weights):
            torch.save(model.state_dict(), weights)
        graph = os.path.join(work, f"{row}.onnx")
        with torch.inference_mode(False), torch.no_grad():
            if name == "resnet50":
                torch.onnx.export(Normalized(model), torch.rand(batch, 3, size, size), graph, opset_version=17, dynamo=False,
                                  input_names=["x"])
            else:
                torch.onnx.export(model, ([torch.rand(3, size, size)],), graph, opset_version=17, dynamo=False,
                                  input_names=["x"])
        flops[row] = count_flops(model, name, size)
    return flops


def count_flops(model, name, size):
    import torch
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            total += 2 * output.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, torch.nn.Linear):
            total += 2 * output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.inference_mode():
        if name == "resnet50":
            model(torch.zeros(1, 3, size, size))
        else:
            model([torch.rand(3, size, size)])
    for h in handles:
        h.remove()
    return total


def timed(step, batch):
    """(tiles/s, this process's peak RSS in MB)."""
    import resource
    step()  # warm-up: first inference compiles or plans
    step()
    runs, start = 0, time.perf_counter()
    while runs < 2 or time.perf_counter() - start < SECONDS:
        step()
        runs += 1
    rate = runs * batch / (time.perf_counter() - start)
    return rate, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peer(runtime, row, precision, work):
    import numpy as np
    name, size, batch = row.split("-")
    size, batch = int(size), int(batch)
    tiles = np.load(os.path.join(work, f"tiles-{size}.npy"))
    detector = name != "resnet50"
    x = tiles[:1][0] if detector else np.ascontiguousarray(np.resize(tiles, (batch, 3, size, size)))
    graph = os.path.join(work, f"{row}.onnx")
    if runtime == "openvino":
        import openvino as ov
        compiled = ov.Core().compile_model(graph, "CPU", {
            "INFERENCE_NUM_THREADS": THREADS, "INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"})
        request = compiled.create_infer_request()
        return timed(lambda: request.infer({0: x}), batch)
    if runtime == "onnxruntime":
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        return timed(lambda: session.run(None, {"x": x}), batch)
    import torch
    torch.set_num_threads(THREADS)
    model = build_model(name)
    model.load_state_dict(torch.load(os.path.join(work, f"{name}.pth")))
    model = model if detector else Normalized(model)
    tensor = torch.from_numpy(x)

    def step():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            model([tensor] if detector else tensor)

    return timed(step, batch)


# ---------------------------------------------------------------- the orchestration

def measure(command):
    """Runs one measurement in its own process and returns what it printed."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(f"{os.path.basename(command[0])}: {lines[-1] if lines else f'exit {done.returncode}'}")
    return done.stdout


def mgpr(row, precision, work):
    name, size, batch = row.split("-")
    size, batch = int(size), int(batch)
    run_dir = tempfile.mkdtemp(dir=work)
    if name == "resnet50":
        timed = max(2 * batch, int(SECONDS * (40 if size == 224 else 2) * (2 if precision == "bf16" else 1)) // batch * batch)
        source = ["use_fake_data=true", "dummy_dataset_delay=0", f"dummy_dataset_count={batch + timed}"]
    else:
        source = [f"image_path={os.path.join(work, 'image.tif')}"]
    command = [f"{BIN}/mgpr", f"model={name}", f"weights={os.path.join(work, name + '.pth')}", *source,
               f"tile_size={size}", f"batch_size={batch}", f"precision={'32' if precision == 'f32' else 'bf16-mixed'}",
               "workers=1", f"cpu_threads={THREADS}", "accelerator=cpu", "output=none", f"run_dir={run_dir}"]
    if name == "retinanet":
        command.append("score_threshold=0.05")
    measure(command)
    with open(os.path.join(run_dir, "rank-0", "metrics.csv")) as f:
        batches = sorted(csv.DictReader(f), key=lambda b: int(b["batch"]))[1:]  # the first is the warm-up
    with open(os.path.join(run_dir, "summary.json")) as f:
        peak = json.load(f)["peak_rss_bytes"]
    return sum(int(b["tiles"]) for b in batches) / sum(float(b["busy_s"]) for b in batches), peak / 2**20


def main():
    if len(sys.argv) > 1:  # a worker, in the peers' virtualenv
        if sys.argv[1] == "prepare":
            print(json.dumps(prepare(sys.argv[2])))
        else:
            print(json.dumps(peer(*sys.argv[2:5], sys.argv[5])))
        return 0

    import numpy as np
    import rasterio
    python = os.environ["PEERS_PYTHON"]
    precisions = os.environ.get("PRECISIONS", "f32 bf16" if native_bf16() else "f32").split()
    with tempfile.TemporaryDirectory() as work:
        image = os.path.join(work, "image.tif")
        subprocess.run([f"{BIN}/mgpr-test-image", f"image_size={IMAGE}", "tile_size=1024", f"image_path={image}"],
                       check=True, stderr=subprocess.DEVNULL)
        with rasterio.open(image) as ds:
            pixels = ds.read((1, 2, 3)).astype(np.float32) / 255
        for size in sorted({int(r.split("-")[1]) for r in ROWS}):
            tiles = [pixels[:, r:r + size, c:c + size] for r in range(0, IMAGE - size + 1, size)
                     for c in range(0, IMAGE - size + 1, size)]
            np.save(os.path.join(work, f"tiles-{size}.npy"), np.stack(tiles))
        flops = json.loads(subprocess.run([python, __file__, "prepare", work], check=True, capture_output=True, text=True).stdout)
        versions = subprocess.run(
            [python, "-c", "import torch, onnxruntime, openvino; print(f'torch {torch.__version__}, onnxruntime "
             "{onnxruntime.__version__}, openvino {openvino.__version__}')"], check=True, capture_output=True, text=True).stdout.strip()
        peak = measured_peak(work)
        print(f"{versions}; {THREADS} threads; {ROUNDS} rounds of {SECONDS:g} s, medians; tiles/s (% of peak), peak RSS MB")
        print(f"peak: {peak['f32']:.0f} GFLOP/s f32 measured ({peak['bits']}-bit FMA on {THREADS} threads), {peak['bf16']:.0f} "
              f"bf16; nominal {nominal_peak()}")
        runtimes = ["mgpr", "openvino", "onnxruntime", "pytorch"]
        print(f"{'row':<18} {'prec':<5} | " + " | ".join(f"{r:>22}" for r in runtimes) + " | x OV")
        for row in ROWS:
            for precision in precisions:
                rates = {r: [] for r in runtimes}
                memory = {r: 0.0 for r in runtimes}
                for _ in range(ROUNDS):
                    for runtime in runtimes:
                        if runtime == "onnxruntime" and precision == "bf16":
                            continue
                        try:
                            if runtime == "mgpr":
                                rate, rss = mgpr(row, precision, work)
                            else:
                                rate, rss = json.loads(measure([python, __file__, "peer", runtime, row, precision, work]))
                        except RuntimeError as error:
                            print(f"  {row} {precision} {runtime}: {error}", file=sys.stderr)
                            continue
                        rates[runtime].append(rate)
                        memory[runtime] = max(memory[runtime], rss)

                def cell(runtime):
                    if not rates[runtime]:
                        return "-"
                    rate = statistics.median(rates[runtime])
                    return f"{rate:7.3f} ({100 * rate * flops[row] / 1e9 / peak[precision]:3.0f}%) {memory[runtime]:5.0f}"

                ours, theirs = rates["mgpr"], rates["openvino"]
                ratio = f"{statistics.median(ours) / statistics.median(theirs):.2f}" if ours and theirs else "-"
                print(f"{row:<18} {precision:<5} | " + " | ".join(f"{cell(r):>22}" for r in runtimes) + f" | {ratio}",
                      flush=True)


def measured_peak(work):
    """GFLOP/s of bench/fma_peak.c on THREADS threads, f32 and bf16, and its vector width."""
    binary = os.path.join(work, "fma_peak")
    subprocess.run(["cc", "-O3", "-march=native", "-fopenmp", os.path.join(ROOT, "bench/fma_peak.c"), "-o", binary], check=True)
    out = subprocess.run([binary, str(500_000_000 // 16)], check=True, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": str(THREADS)}).stdout.split()
    f32 = float(out[0])
    flags = cpu_flags()
    return {"f32": f32, "bf16": f32 * (16 if "amx_bf16" in flags else 2 if "avx512_bf16" in flags else 1), "bits": out[1]}


def nominal_peak():
    """cores x nominal GHz x f32 FLOP per cycle per core, as text."""
    text = open("/proc/cpuinfo").read()
    ghz = float(next(l for l in text.splitlines() if l.startswith("cpu MHz")).split(":")[1]) / 1000
    if "avx512f" in cpu_flags():
        per_cycle, rule = (32, "Zen 4 runs AVX-512 on 2 x 256-bit FMA") if "AuthenticAMD" in text else (64, "2 x 512-bit FMA")
    else:
        per_cycle, rule = 32, "2 x 256-bit FMA"
    return f"{THREADS * ghz * per_cycle:.0f} f32 ({THREADS} x {ghz:.2f} GHz x {per_cycle} FLOP/cycle, {rule})"


if __name__ == "__main__":
    sys.exit(main())
