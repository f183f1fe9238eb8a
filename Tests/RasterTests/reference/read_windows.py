"""Reference reads for RasterTests, by rasterio, zero outside the raster (a boundless
read), scaled to [0, 1] by data type (Byte /255, UInt16 /65535, floats as stored), NaN
as 0.

MODE plain: values as stored, `ds.read(bands, window=...)`, no mask (the seed's read).
MODE dataset_mask: pixels where the dataset mask is 0 become 0 in every band. Over
the selected bands that mask is the per-dataset mask (alpha, internal mask) where a
band has one, else the OR of their `read_masks`: what `dataset_mask()` computes over
all bands; the script checks that the two agree when every band is selected.

rasterio's own boundless=True read drops alpha masks (1.3.5), so the part inside
the raster is read unbounded and placed into a zero tile here.

usage: read_windows.py RASTER BANDS MODE OUT.f32 COL,ROW,W,H [COL,ROW,W,H ...]
Writes each window's CHW float32 values, one window after another, to OUT.f32.
"""
import sys

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.windows import Window

SCALE = {"uint8": 1 / 255, "uint16": 1 / 65535, "float32": 1.0, "float64": 1.0}

path, bands, mode, out = sys.argv[1], [int(b) for b in sys.argv[2].split(",")], sys.argv[3], sys.argv[4]
assert mode in ("plain", "dataset_mask"), mode
with rasterio.open(path) as ds, open(out, "wb") as f:
    for spec in sys.argv[5:]:
        col, row, w, h = (int(v) for v in spec.split(","))
        values = np.zeros((len(bands), h, w), dtype=np.float64)
        c0, r0 = max(col, 0), max(row, 0)
        c1, r1 = min(col + w, ds.width), min(row + h, ds.height)
        if c1 > c0 and r1 > r0:
            window = Window(c0, r0, c1 - c0, r1 - r0)
            inside = ds.read(bands, window=window).astype(np.float64)
            if mode == "dataset_mask":
                shared = [b for b in bands if MaskFlags.per_dataset in ds.mask_flag_enums[b - 1]]
                mask = np.zeros(inside.shape[1:], dtype=bool)
                for b in shared[:1] or bands:
                    mask |= ds.read_masks(b, window=window) != 0
                if sorted(set(bands)) == list(range(1, ds.count + 1)):
                    assert (mask == (ds.dataset_mask(window=window) != 0)).all(), "mask differs from dataset_mask()"
                inside[:, ~mask] = 0
            values[:, r0 - row:r1 - row, c0 - col:c1 - col] = inside
        values = np.nan_to_num(values, nan=0.0) * SCALE[ds.dtypes[bands[0] - 1]]
        f.write(values.astype(np.float32).tobytes())
