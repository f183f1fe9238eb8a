"""Writes a large georeferenced RGB GeoTIFF from a real NEON crop, with numpy alone (GPU
machines seldom have GDAL or rasterio): the crop and its mirror images repeated across
SIZE x SIZE pixels, 0.1 m pixels in UTM 17N (EPSG:32617) as NEON's, tiled 512 x 512,
uncompressed (classic TIFF up to 4 GiB; a 20000 px image is 1.2 GB).

usage: geotiff.py --crop OSBS_029.npy --out big.tif [--size 20000]
"""
import argparse
import struct

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--crop", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--size", type=int, default=20000)
args = parser.parse_args()

crop = np.load(args.crop).transpose(1, 2, 0)  # [400, 400, 3] uint8
# Mirrored 2 x 2: the pattern repeats without seams.
block = np.concatenate([np.concatenate([crop, crop[:, ::-1]], 1), np.concatenate([crop[::-1], crop[::-1, ::-1]], 1)], 0)
size, tile = args.size, 512
across = (size + tile - 1) // tile
count = across * across
tile_bytes = tile * tile * 3

# Tags (sorted), then the tiles. Types: 3 SHORT, 4 LONG, 12 DOUBLE.
geokeys = [1, 1, 0, 4, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32617, 3076, 0, 1, 9001]
entries = [
    (256, 4, [size]), (257, 4, [size]), (258, 3, [8, 8, 8]), (259, 3, [1]), (262, 3, [2]), (277, 3, [3]),
    (284, 3, [1]), (322, 3, [tile]), (323, 3, [tile]), (324, 4, None), (325, 4, [tile_bytes] * count),
    (339, 3, [1, 1, 1]), (33550, 12, [0.1, 0.1, 0.0]), (33922, 12, [0, 0, 0, 404000.0, 3285000.0, 0]),
    (34735, 3, geokeys),
]
formats = {3: "H", 4: "I", 12: "d"}
ifd_offset = 8
ifd_size = 2 + 12 * len(entries) + 4
data_offset = ifd_offset + ifd_size
extra = bytearray()
first_tile = None


def place(values, kind):
    """Bytes of an entry's values inline (<= 4) or its offset into the extra area."""
    raw = struct.pack("<" + formats[kind] * len(values), *values)
    if len(raw) <= 4:
        return raw.ljust(4, b"\0")
    offset = data_offset + len(extra)
    extra.extend(raw)
    if len(extra) % 2:
        extra.append(0)
    return struct.pack("<I", offset)


# Two passes: the tile offsets depend on the size of the extra area, which holds them.
offsets_size = 4 * count
layout = []
for tag, kind, values in entries:
    layout.append((tag, kind, values if values is not None else [0] * count))
for _ in range(2):
    extra = bytearray()
    packed = [(tag, kind, len(values), place(values, kind)) for tag, kind, values in layout]
    first_tile = data_offset + len(extra)
    layout = [(t, k, [first_tile + i * tile_bytes for i in range(count)] if t == 324 else v) for t, k, v in layout]

with open(args.out, "wb") as f:
    f.write(b"II*\0" + struct.pack("<I", ifd_offset))
    f.write(struct.pack("<H", len(packed)))
    for tag, kind, n, value in packed:
        f.write(struct.pack("<HHI", tag, kind, n) + value)
    f.write(struct.pack("<I", 0))
    f.write(extra)
    assert f.tell() == first_tile
    rows = np.arange(tile)
    for ty in range(across):
        ys = (ty * tile + rows) % block.shape[0]
        band = block[ys]
        for tx in range(across):
            xs = (tx * tile + rows) % block.shape[1]
            f.write(np.ascontiguousarray(band[:, xs]).tobytes())
print(f"{args.out}: {size} x {size} RGB, {count} tiles of {tile} px, EPSG:32617 at 0.1 m")
