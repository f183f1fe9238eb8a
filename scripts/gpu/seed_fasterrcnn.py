"""The Python demo's default job, as its README describes it, for timing beside mgpr on
the same GPU: PyTorch Lightning's Trainer.predict over a dummy dataset of random
1024 px tiles (each after `dummy_dataset_delay` seconds of simulated loading), through
torchvision's fasterrcnn_resnet50_fpn, batch 16, precision "16-mixed", one GPU.

usage: seed_fasterrcnn.py --json OUT.json [--tiles 2000] [--batch 16] [--tile-size 1024]
                          [--precision 16-mixed] [--workers 8] [--delay 0]
                          [--weights STATE_DICT.pth] [--compile] [--accelerator gpu]

The model has the structure the demo's pretrained one has (fasterrcnn_resnet50_fpn
with weights builds its ResNet50 with FrozenBatchNorm2d and three trainable layers),
with --weights loaded into it (the same file mgpr is given), else random ones; cuDNN
picks its algorithms by measuring (`cudnn.benchmark`), as a tuned PyTorch job would.
--compile runs it through torch.compile(mode="max-autotune": Triton kernels chosen by
measuring, CUDA graphs); where that fails the error is in OUT.json.

Writes OUT.json: tiles, seconds (the whole predict call), tiles_per_s,
steady_tiles_per_s (batches after the first 10%, at least 2, as mgpr's benchmark
counts them), steady_window (those batches' first and last finish, seconds since
1970, for the GPU utilisation over the same window), peak_memory_bytes (torch's
allocator), and the versions.
"""
import argparse
import json
import sys
import time

import torch
import torchvision

try:
    import lightning as L
except ImportError:  # older installs name the package pytorch_lightning
    import pytorch_lightning as L

parser = argparse.ArgumentParser()
parser.add_argument("--json", required=True)
parser.add_argument("--tiles", type=int, default=2000)
parser.add_argument("--batch", type=int, default=16)
parser.add_argument("--tile-size", type=int, default=1024)
parser.add_argument("--precision", default="16-mixed")
parser.add_argument("--workers", type=int, default=8)
parser.add_argument("--delay", type=float, default=0.0)
parser.add_argument("--weights")
parser.add_argument("--compile", action="store_true")
parser.add_argument("--accelerator", default="gpu", help="cpu: a dry run of the script itself")
args = parser.parse_args()
torch.backends.cudnn.benchmark = True


def pretrained_structure():
    """fasterrcnn_resnet50_fpn as torchvision builds it with pretrained weights."""
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops.misc import FrozenBatchNorm2d
    body = torchvision.models.resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    model = torchvision.models.detection.FasterRCNN(_resnet_fpn_extractor(body, 3), num_classes=91)
    if args.weights:
        model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    return model


class DummyTiles(torch.utils.data.Dataset):
    def __init__(self, count, size, delay):
        self.count, self.size, self.delay = count, size, delay

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        if self.delay > 0:
            time.sleep(self.delay)
        return torch.rand(3, self.size, self.size)


class Detector(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = pretrained_structure()
        if args.compile:
            self.model = torch.compile(self.model, mode="max-autotune")
        self.finished = []

    def predict_step(self, batch, batch_idx):
        results = self.model(list(batch))
        # The demo hands each batch's detections back to the host.
        out = [{k: v.cpu() for k, v in r.items()} for r in results]
        self.finished.append(time.time())
        return len(out)


module = Detector().eval()
loader = torch.utils.data.DataLoader(
    DummyTiles(args.tiles, args.tile_size, args.delay), batch_size=args.batch, num_workers=args.workers,
    pin_memory=True, persistent_workers=False)
trainer = L.Trainer(accelerator=args.accelerator, devices=1, precision=args.precision, logger=False, enable_progress_bar=False,
                    enable_checkpointing=False)
start = time.perf_counter()
error = None
try:
    trainer.predict(module, loader, return_predictions=False)
except Exception as e:  # torch.compile of a detector may not compile: say so, beside the others
    error = f"{type(e).__name__}: {str(e)[:2000]}"
seconds = time.perf_counter() - start
done = module.finished
skip = max(2, len(done) // 10)
steady = len(done) > skip + 1
result = {
    "tiles": args.tiles, "batch": args.batch, "tile_size": args.tile_size, "precision": args.precision,
    "workers": args.workers, "delay": args.delay, "weights": args.weights, "compiled": args.compile, "error": error,
    "structure": "FrozenBatchNorm2d (pretrained)", "cudnn_benchmark": True, "seconds": seconds,
    "tiles_per_s": len(done) * args.batch / seconds,
    "steady_tiles_per_s": (len(done) - skip) * args.batch / (done[-1] - done[skip - 1]) if steady else None,
    "steady_window": [done[skip - 1], done[-1]] if steady else None,
    "peak_memory_bytes": torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None,
    "torch": torch.__version__, "torchvision": torchvision.__version__, "lightning": L.__version__,
    "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
}
with open(args.json, "w") as f:
    json.dump(result, f, indent=1)
print(json.dumps(result))
sys.exit(1 if error else 0)
