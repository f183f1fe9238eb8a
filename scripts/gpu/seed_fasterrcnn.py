"""The Python demo's default job, as its README describes it, for timing beside mgpr on
the same GPU: PyTorch Lightning's Trainer.predict over a dummy dataset of random
1024 px tiles (each after `dummy_dataset_delay` seconds of simulated loading), through
torchvision's fasterrcnn_resnet50_fpn, batch 16, precision "16-mixed", one GPU.

usage: seed_fasterrcnn.py --json OUT.json [--tiles 2000] [--batch 16] [--tile-size 1024]
                          [--precision 16-mixed] [--workers 8] [--delay 0]

Weights are torchvision's architecture with random initialisation (the demo loads
pretrained ones; the work per tile is the same). Writes OUT.json: tiles, seconds (the
whole predict call), tiles_per_s, steady_tiles_per_s (batches after the first 10%),
peak_memory_bytes (torch's allocator), and the versions.
"""
import argparse
import json
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
args = parser.parse_args()


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
        self.model = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
        self.finished = []

    def predict_step(self, batch, batch_idx):
        results = self.model(list(batch))
        # The demo hands each batch's detections back to the host.
        out = [{k: v.cpu() for k, v in r.items()} for r in results]
        self.finished.append(time.perf_counter())
        return len(out)


module = Detector().eval()
loader = torch.utils.data.DataLoader(
    DummyTiles(args.tiles, args.tile_size, args.delay), batch_size=args.batch, num_workers=args.workers,
    pin_memory=True, persistent_workers=False)
trainer = L.Trainer(accelerator="gpu", devices=1, precision=args.precision, logger=False, enable_progress_bar=False,
                    enable_checkpointing=False)
start = time.perf_counter()
trainer.predict(module, loader, return_predictions=False)
seconds = time.perf_counter() - start
done = module.finished
skip = max(1, len(done) // 10)
steady = (len(done) - skip) * args.batch / (done[-1] - done[skip - 1]) if len(done) > skip + 1 else None
result = {
    "tiles": args.tiles, "batch": args.batch, "tile_size": args.tile_size, "precision": args.precision,
    "workers": args.workers, "delay": args.delay, "seconds": seconds, "tiles_per_s": args.tiles / seconds,
    "steady_tiles_per_s": steady, "peak_memory_bytes": torch.cuda.max_memory_allocated(),
    "torch": torch.__version__, "torchvision": torchvision.__version__, "lightning": L.__version__,
    "device": torch.cuda.get_device_name(0),
}
with open(args.json, "w") as f:
    json.dump(result, f, indent=1)
print(json.dumps(result))
