"""Reference reads for RasterTests: rasterio's masked window reads (nodata, alpha and
mask bands all honoured) filled with 0, zero outside the raster (a boundless read),
scaled to [0, 1] by data type (Byte /255, UInt16 /65535, floats as stored).

rasterio's own boundless=True read drops alpha masks (1.3.5), so the part inside
the raster is read unbounded and placed into a zero tile here.

usage: read_windows.py RASTER BANDS OUT.f32 COL,ROW,W,H [COL,ROW,W,H ...]
Writes each window's CHW float32 values, one window after another, to OUT.f32.
"""
import sys

import numpy as np
import rasterio
from rasterio.windows import Window

SCALE = {"uint8": 1 / 255, "uint16": 1 / 65535, "float32": 1.0, "float64": 1.0}

path, bands, out = sys.argv[1], [int(b) for b in sys.argv[2].split(",")], sys.argv[3]
with rasterio.open(path) as ds, open(out, "wb") as f:
    for spec in sys.argv[4:]:
        col, row, w, h = (int(v) for v in spec.split(","))
        values = np.zeros((len(bands), h, w), dtype=np.float64)
        c0, r0 = max(col, 0), max(row, 0)
        c1, r1 = min(col + w, ds.width), min(row + h, ds.height)
        if c1 > c0 and r1 > r0:
            inside = ds.read(bands, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
            values[:, r0 - row:r1 - row, c0 - col:c1 - col] = inside.filled(0)
        values = np.nan_to_num(values, nan=0.0) * SCALE[ds.dtypes[bands[0] - 1]]
        f.write(values.astype(np.float32).tobytes())
