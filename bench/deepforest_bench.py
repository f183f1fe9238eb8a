"""mgpr against DeepForest itself: the same raster, the same weights, CPU, same threads.

The raster is real imagery: the 780 px test mosaic (a NEON crop, .fixtures/retinanet)
mirrored out to SIZE x SIZE px (default 2000), a GeoTIFF with the mosaic's CRS and
pixel size. The weights are DeepForest's tree model layout (a Hugging Face folder,
config.json + model.safetensors; WEIGHTS to change, default the seeded test folder).
Each side runs once, in its own process, turn by turn:
  mgpr        mgpr preset=deepforest (400 px windows, 5% overlap, float32, score 0.1,
              NMS 0.05, the mosaic NMS at 0.15), its defaults otherwise (batch_size,
              workers), CSV output; timed as the whole process (start-up and weight
              loading included);
  deepforest  DeepForest 2.1.0's deepforest().predict_tile(path, patch_size=400,
              patch_overlap=0.05, iou_threshold=0.15) in its own virtualenv
              (DEEPFOREST_PYTHON, made by bench/deepforest.sh), torch.set_num_threads
              as mgpr's cpu_threads; timed around predict_tile (reading the raster
              included; Python's imports and the model's loading not).
tiles/s is windows over those seconds; peak memory is each process's peak RSS (wait4),
imports included: DeepForest's also prints what it held before predict_tile (about 1 GiB,
much of it the libraries of PyPI's CUDA build of torch).
As a check that both did the same work: their box counts, and the share of DeepForest's
boxes that mgpr has too (a box of mgpr's at IoU >= 0.9, both truncated to whole pixels
as DeepForest's mosaic leaves its own): far below 100%, the two did not run alike.
Run: bench/deepforest.sh (SIZE=px, THREADS=n, WEIGHTS=folder).
"""
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import rasterio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = int(os.environ.get("SIZE", 2000))
WEIGHTS = os.environ.get("WEIGHTS", os.path.join(ROOT, ".fixtures/retinanet/deepforest_tree"))
MOSAIC = os.path.join(ROOT, ".fixtures/retinanet/mosaic.tif")
PATCH, OVERLAP, MERGE_IOU = 400, 0.05, 0.15  # predict_tile's defaults, given explicitly


def make_raster(path):
    """The mosaic mirrored out to SIZE px (np.pad's symmetric mode repeats it as needed)."""
    with rasterio.open(MOSAIC) as src:
        pixels, crs, transform = src.read(), src.crs, src.transform
    pad = ((0, 0), (0, max(SIZE - pixels.shape[1], 0)), (0, max(SIZE - pixels.shape[2], 0)))
    pixels = np.pad(pixels, pad, mode="symmetric")[:, :SIZE, :SIZE]
    # Plain strips, pixel-interleaved, uncompressed: what PIL (DeepForest's reader) reads.
    with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=3, dtype="uint8",
                       crs=crs, transform=transform) as dst:
        dst.write(pixels)


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
    """In DeepForest's virtualenv: predict_tile over the raster; boxes to out, times to out.json."""
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
    model = deepforest_main.deepforest(config_args={
        "model": {"name": WEIGHTS}, "accelerator": "cpu", "devices": 1, "log_root": tmp})
    model.create_trainer(enable_progress_bar=False, enable_model_summary=False)
    # from_pretrained loads non-strictly: check that every tensor came from the folder.
    saved, loaded = safetensors.torch.load_file(os.path.join(WEIGHTS, "model.safetensors")), model.model.state_dict()
    assert all(k in saved and torch.equal(loaded[k], saved[k]) for k in loaded), "weights not loaded from the folder"

    loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # imports and model, before predicting
    start = time.perf_counter()
    found = model.predict_tile(path=image, patch_size=PATCH, patch_overlap=OVERLAP, iou_threshold=MERGE_IOU)
    seconds = time.perf_counter() - start
    columns = ["xmin", "ymin", "xmax", "ymax", "label", "score"]
    (pd.DataFrame(columns=columns) if found is None else found[columns]).to_csv(out, index=False)  # None: no boxes
    with rasterio.open(image) as ds:
        windows = len(preprocess.compute_windows(np.empty((3, ds.height, ds.width), np.uint8), PATCH, OVERLAP))
    with open(out + ".json", "w") as f:
        json.dump({"seconds": seconds, "windows": windows, "loaded_rss": loaded_rss, "deepforest": deepforest.__version__,
                   "torch": torch.__version__, "threads": torch.get_num_threads()}, f)


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from fasterrcnn_bench import BIN, THREADS

    python = os.environ.get("DEEPFOREST_PYTHON")
    if not python:
        sys.exit("DEEPFOREST_PYTHON: the virtualenv's python with deepforest (run bench/deepforest.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "bench.tif")
        make_raster(image)

        ours_csv = os.path.join(tmp, "mgpr.csv")
        ours_s, ours_rss = run(
            [f"{BIN}/mgpr", "preset=deepforest", f"weights={WEIGHTS}", f"image_path={image}", f"output={ours_csv}",
             f"run_dir={tmp}/run", "precision=32", "accelerator=cpu", f"cpu_threads={THREADS}"],
            os.path.join(tmp, "mgpr.log"))
        with open(os.path.join(tmp, "run/summary.json")) as f:
            ours_tiles = json.load(f)["tiles"]

        theirs_csv = os.path.join(tmp, "deepforest.csv")
        env = dict(os.environ, HF_HUB_OFFLINE="1")  # the weights are a local folder
        _, theirs_rss = run([python, os.path.abspath(__file__), "deepforest", image, theirs_csv, str(THREADS), tmp],
                            os.path.join(tmp, "deepforest.log"), env)
        with open(theirs_csv + ".json") as f:
            df = json.load(f)

        ours, theirs = boxes(ours_csv), boxes(theirs_csv)
        print(f"deepforest {df['deepforest']}, torch {df['torch']}, CPU, {THREADS} threads (DeepForest's torch: "
              f"{df['threads']}); {SIZE} px raster, {df['windows']} windows of {PATCH} px (mgpr: {ours_tiles})")
        rows = [("tiles/s", ours_tiles / ours_s, df["windows"] / df["seconds"], "{:10.3f}"),
                ("peak RSS MiB", ours_rss / 2**20, theirs_rss / 2**20, "{:10.0f}"),
                ("boxes", len(ours), len(theirs), "{:10d}")]
        print(f"{'':>12} | {'mgpr':>10} | {'deepforest':>10} | {'mgpr/deepforest':>15}")
        for name, a, b, fmt in rows:
            print(f"{name:>12} | {fmt.format(a)} | {fmt.format(b)} | {a / b if b else float('nan'):15.2f}")
        print(f"mgpr has {100 * matched(theirs, ours):.1f}% of DeepForest's boxes (IoU >= 0.9); DeepForest's "
              f"process held {df['loaded_rss'] / 2**20:.0f} MiB before predict_tile (imports, model)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["deepforest"]:  # the child, in DeepForest's virtualenv
        deepforest_predict(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(main())
