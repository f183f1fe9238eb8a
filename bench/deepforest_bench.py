"""mgpr against DeepForest itself: the same raster, the same weights, on the same device.

The raster is real imagery mirrored out to SIZE x SIZE px (default 2000): on the CPU the
780 px test mosaic (a NEON crop, .fixtures/retinanet), written as a GeoTIFF with its CRS
and pixel size; with CROP=crop.npy (uint8 [3, H, W], for a machine without the fixtures)
that crop, written as a plain TIFF by Pillow (no georeferencing: both sides' boxes are
in pixels either way). The weights are DeepForest's tree model layout (a Hugging Face
folder, config.json + model.safetensors; WEIGHTS, default the seeded test folder).
Each side runs in its own process, turn by turn:
  mgpr        mgpr preset=deepforest (400 px windows, 5% overlap, float32, score 0.1,
              NMS 0.05, the mosaic NMS at 0.15), its defaults otherwise (batch_size,
              workers), CSV output; timed as the whole process (start-up and weight
              loading included); on a GPU after one untimed run over the same raster,
              which compiles its kernels and measures cuDNN's algorithms into the
              kernel cache, as every run after a GPU model's first finds them;
  deepforest  DeepForest 2.1.0's deepforest().predict_tile(path, patch_size=400,
              patch_overlap=0.05, iou_threshold=0.15), its config as it comes (batch_size
              1, workers 0) or with DEEPFOREST_BATCH_SIZE and DEEPFOREST_WORKERS, in its own
              Python (DEEPFOREST_PYTHON, made by bench/deepforest.sh);
              torch.set_num_threads as mgpr's cpu_threads; timed around predict_tile
              (reading the raster included; Python's imports and the model's loading not).
ACCELERATOR=gpu runs both on the GPU (mgpr accelerator=gpu; DeepForest's Lightning
accelerator "gpu", whose cuDNN convolutions run in TF32 unless torch is told otherwise:
its json records torch.backends.cudnn.allow_tf32). MGPR_TF32=true adds tf32=true.
tiles/s is windows over those seconds; peak memory is each process's peak RSS (wait4),
imports included: DeepForest's also prints what it held before predict_tile.
As a check that both did the same work: their box counts, the share of DeepForest's
boxes that mgpr has too (a box of mgpr's at IoU >= 0.9, both truncated to whole pixels
as DeepForest's mosaic leaves its own) and the share of mgpr's that DeepForest has: far
below 100%, the two did not run alike.

Run: bench/deepforest.sh (SIZE=px, THREADS=n, WEIGHTS=folder, PATCH_SIZE=px, PATCH_OVERLAP=fraction),
which runs both sides.
Where the two cannot share one Python (a GPU machine that can take only one of them at a
time), the sides run apart on the same raster and weights and meet in a folder:
  deepforest_bench.py --side deepforest --results DIR   DeepForest's run, saved in DIR
  deepforest_bench.py --side mgpr --results DIR         mgpr's, then the table against DIR
"""
import argparse
import csv
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MGPR = os.environ.get("MGPR", os.path.join(ROOT, ".build/release/mgpr"))
THREADS = int(os.environ.get("THREADS", os.cpu_count()))
SIZE = int(os.environ.get("SIZE", 2000))
WEIGHTS = os.environ.get("WEIGHTS", os.path.join(ROOT, ".fixtures/retinanet/deepforest_tree"))
MOSAIC = os.path.join(ROOT, ".fixtures/retinanet/mosaic.tif")
CROP = os.environ.get("CROP")
ACCELERATOR = os.environ.get("ACCELERATOR", "cpu")
# predict_tile's defaults, given explicitly (PATCH_SIZE and PATCH_OVERLAP to change them)
PATCH, OVERLAP = int(os.environ.get("PATCH_SIZE", 400)), float(os.environ.get("PATCH_OVERLAP", 0.05))
MERGE_IOU = 0.15


def make_raster(path):
    """The source mirrored out to SIZE px (np.pad's symmetric mode repeats it as needed)."""
    if CROP:
        pixels = np.load(CROP)
    else:
        import rasterio
        with rasterio.open(MOSAIC) as src:
            pixels, crs, transform = src.read(), src.crs, src.transform
    pad = ((0, 0), (0, max(SIZE - pixels.shape[1], 0)), (0, max(SIZE - pixels.shape[2], 0)))
    pixels = np.pad(pixels, pad, mode="symmetric")[:, :SIZE, :SIZE]
    # Plain strips, pixel-interleaved, uncompressed: what PIL (DeepForest's reader) reads.
    if CROP:
        from PIL import Image
        Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0))).save(path)
        return
    with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=3, dtype="uint8",
                       crs=crs, transform=transform) as dst:
        dst.write(pixels)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def run(cmd, log, env=None):
    """Runs cmd to the end; its wall seconds and peak RSS in bytes (its own, from wait4)."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"{cmd[0]} failed ({proc.returncode}); its output:\n{open(log).read()[-4000:]}")
    return time.perf_counter() - start, usage.ru_maxrss * 1024


def boxes(path):
    """A CSV's boxes, truncated to whole pixels as DeepForest's mosaic leaves its own."""
    with open(path, newline="") as f:
        return np.trunc(np.array([[float(r[k]) for k in ("xmin", "ymin", "xmax", "ymax")] for r in csv.DictReader(f)],
                                 dtype=np.float64).reshape(-1, 4))


def matched(theirs, ours, iou=0.9):
    """Share of `theirs` with a box in `ours` at IoU >= iou (in chunks: N x M can be big)."""
    if len(theirs) == 0 or len(ours) == 0:
        return float(len(theirs) == len(ours))
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    hits = 0
    for chunk in np.array_split(theirs, max(1, len(theirs) // 1024)):
        lo, hi = np.maximum(chunk[:, None, :2], ours[None, :, :2]), np.minimum(chunk[:, None, 2:], ours[None, :, 2:])
        inter = np.clip(hi - lo, 0, None).prod(axis=2)
        best = (inter / (area(chunk)[:, None] + area(ours)[None, :] - inter)).max(axis=1)
        hits += int((best >= iou).sum())
    return hits / len(theirs)


def deepforest_predict(image, out, threads, tmp):
    """In DeepForest's Python: predict_tile over the raster; boxes to out, times to out.json."""
    import pandas as pd
    import safetensors.torch
    import torch
    import torchvision
    import deepforest
    from deepforest import main as deepforest_main
    from deepforest import preprocess

    torch.set_num_threads(threads)
    # RetinaNetHub builds its backbone with retinanet_resnet50_fpn, whose ImageNet
    # backbone weights it would download (no network here) before the folder's weights
    # replace them: hand it a fresh resnet50's instead, so that the model is built as
    # DeepForest builds it (FrozenBatchNorm2d and all), offline.
    torchvision.models._api.load_state_dict_from_url = lambda *a, **k: torchvision.models.resnet50().state_dict()
    config = {"model": {"name": WEIGHTS}, "accelerator": ACCELERATOR, "devices": 1, "log_root": tmp}
    for key in ("batch_size", "workers"):
        if os.environ.get(f"DEEPFOREST_{key.upper()}"):
            config[key] = int(os.environ[f"DEEPFOREST_{key.upper()}"])
    model = deepforest_main.deepforest(config_args=config)
    model.create_trainer(enable_progress_bar=False, enable_model_summary=False)
    # from_pretrained loads non-strictly: check that every tensor came from the folder.
    saved, loaded = safetensors.torch.load_file(os.path.join(WEIGHTS, "model.safetensors")), model.model.state_dict()
    assert all(k in saved and torch.equal(loaded[k].cpu(), saved[k]) for k in loaded), "weights not loaded from the folder"

    loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # imports and model, before predicting
    start = time.perf_counter()
    found = model.predict_tile(path=image, patch_size=PATCH, patch_overlap=OVERLAP, iou_threshold=MERGE_IOU)
    seconds = time.perf_counter() - start
    columns = ["xmin", "ymin", "xmax", "ymax", "label", "score"]
    (pd.DataFrame(columns=columns) if found is None else found[columns]).to_csv(out, index=False)  # None: no boxes
    windows = len(preprocess.compute_windows(np.empty((3, SIZE, SIZE), np.uint8), PATCH, OVERLAP))
    with open(out + ".json", "w") as f:
        json.dump({"seconds": seconds, "windows": windows, "loaded_rss": loaded_rss, "deepforest": deepforest.__version__,
                   "torch": torch.__version__, "threads": torch.get_num_threads(),
                   "batch_size": model.config.batch_size, "workers": model.config.workers,
                   "device": torch.cuda.get_device_name() if ACCELERATOR == "gpu" else "cpu",
                   "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32}, f)


def deepforest_side(image, results, name, tmp):
    """DeepForest's predict_tile over image in its own process; its table and figures in results/name.*"""
    python = os.environ.get("DEEPFOREST_PYTHON")
    if not python:
        sys.exit("DEEPFOREST_PYTHON: a Python with deepforest 2.1.0 (bench/deepforest.sh makes one)")
    out = os.path.join(results, f"{name}.csv")
    env = dict(os.environ, HF_HUB_OFFLINE="1")  # the weights are a local folder
    _, rss = run([python, os.path.abspath(__file__), "--child", image, out, str(THREADS), tmp],
                 os.path.join(results, f"{name}.log"), env)
    with open(out + ".json") as f:
        figures = json.load(f)
    figures.update(side="deepforest", name=name, rss=rss, raster=digest(image),
                   weights=digest(os.path.join(WEIGHTS, "model.safetensors")))
    with open(out + ".json", "w") as f:
        json.dump(figures, f)
    print(f"{name}: {figures['windows']} windows in {figures['seconds']:.1f} s ({figures['windows'] / figures['seconds']:.2f} "
          f"tiles/s) on {figures['device']}, batch {figures['batch_size']}, workers {figures['workers']}; "
          f"{len(boxes(out))} boxes; peak RSS {rss / 2**20:.0f} MiB")
    return figures


def mgpr_side(image, results, name, tmp, keys=()):
    """mgpr preset=deepforest over image (on a GPU after an untimed first run); its table and figures in results/name.*"""
    out = os.path.join(results, f"{name}.csv")
    command = [MGPR, "preset=deepforest", f"weights={WEIGHTS}", f"image_path={image}", f"patch_size={PATCH}",
               f"patch_overlap={OVERLAP}", "precision=32",
               f"accelerator={ACCELERATOR}", f"cpu_threads={THREADS}", *keys]
    if ACCELERATOR == "gpu":
        run(command + [f"output={tmp}/{name}-first.csv", f"run_dir={tmp}/{name}-first"],
            os.path.join(results, f"{name}-first.log"))
    seconds, rss = run(command + [f"output={out}", f"run_dir={tmp}/{name}"], os.path.join(results, f"{name}.log"))
    with open(os.path.join(tmp, name, "summary.json")) as f:
        tiles = json.load(f)["tiles"]
    return {"side": "mgpr", "name": name, "seconds": seconds, "windows": tiles, "rss": rss, "keys": list(keys),
            "raster": digest(image), "weights": digest(os.path.join(WEIGHTS, "model.safetensors"))}


def table(runs, results):
    """One row per run, then each mgpr run against each DeepForest run."""
    first = next(r for r in runs if r["side"] == "deepforest")
    for r in runs:
        if (r["raster"], r["weights"]) != (first["raster"], first["weights"]):
            sys.exit(f"{r['name']} ran on another raster or other weights than {first['name']} "
                     f"(raster {r['raster']} / {first['raster']}, weights {r['weights']} / {first['weights']})")
    print(f"deepforest {first['deepforest']}, torch {first['torch']}, {ACCELERATOR} ({first['device']}), "
          f"{THREADS} threads; {SIZE} px raster, {first['windows']} windows of {PATCH} px"
          + (f"; DeepForest's cuDNN TF32 {first['cudnn_allow_tf32']}" if ACCELERATOR == "gpu" else ""))
    found = {r["name"]: boxes(os.path.join(results, f"{r['name']}.csv")) for r in runs}
    print(f"{'':>38} | {'windows':>7} | {'tiles/s':>8} | {'peak RSS MiB':>12} | {'boxes':>6}")
    for r in runs:
        label = r["name"] + (f" (batch {r['batch_size']}, workers {r['workers']})" if r["side"] == "deepforest" else "")
        print(f"{label:>38} | {r['windows']:7d} | {r['windows'] / r['seconds']:8.3f} | {r['rss'] / 2**20:12.0f} | "
              f"{len(found[r['name']]):6d}")
    for ours in (r for r in runs if r["side"] == "mgpr"):
        for theirs in (r for r in runs if r["side"] == "deepforest"):
            speed = (ours["windows"] / ours["seconds"]) / (theirs["windows"] / theirs["seconds"])
            print(f"{ours['name']} / {theirs['name']}: tiles/s {speed:.2f}x, "
                  f"peak RSS {ours['rss'] / theirs['rss']:.2f}x; mgpr has "
                  f"{100 * matched(found[theirs['name']], found[ours['name']]):.1f}% of its boxes, it has "
                  f"{100 * matched(found[ours['name']], found[theirs['name']]):.1f}% of mgpr's (IoU >= 0.9)")
    print(f"DeepForest's process held {first['loaded_rss'] / 2**20:.0f} MiB before predict_tile (imports, model)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", choices=["both", "deepforest", "mgpr"], default="both")
    parser.add_argument("--results", help="the folder where the sides' tables and figures meet")
    parser.add_argument("--name", help="this run's name in the folder (default: deepforest, mgpr)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = args.results or os.path.join(tmp, "results")
        os.makedirs(results, exist_ok=True)
        image = os.path.join(tmp, "bench.tif")
        make_raster(image)
        if args.side in ("both", "deepforest"):
            deepforest_side(image, results, args.name or "deepforest", tmp)
        if args.side in ("both", "mgpr"):
            runs = [mgpr_side(image, results, args.name or "mgpr", tmp)]
            if ACCELERATOR == "gpu" and os.environ.get("MGPR_TF32") == "true":
                runs.append(mgpr_side(image, results, (args.name or "mgpr") + "_tf32", tmp, ["tf32=true"]))
            for r in runs:
                with open(os.path.join(results, f"{r['name']}.csv.json"), "w") as f:
                    json.dump(r, f)
            theirs = []
            for entry in sorted(os.listdir(results)):
                if entry.endswith(".csv.json"):
                    with open(os.path.join(results, entry)) as f:
                        figures = json.load(f)
                    theirs += [figures] if figures["side"] == "deepforest" else []
            if not theirs:
                sys.exit(f"{results}: no DeepForest run to compare with (run --side deepforest first)")
            table(runs + theirs, results)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:  # DeepForest itself, in its own Python
        deepforest_predict(*sys.argv[2:4], int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(main())
