"""Small weights files for WeightsTests: valid ones (the seeds of the fuzz test) and
hostile ones whose offsets, sizes, strides or lengths point outside the file.

usage: make_weights.py OUT_DIR
Writes small.pth (torch.save of a small state_dict, a strided tensor included) and
small.safetensors, then hostile/*.pth and hostile/*.safetensors, each with one lie:
  pth_offset_<n>          a storage offset of n (negative: before the storage)
  pth_stride_huge         a stride of 2^62
  pth_size_huge           a size of [2^32, 2^32] (its element count overflows)
  pth_numel_huge          a storage that claims 2^62 elements
  st_header_<n>           a header length of n (2^64 - 1, 2^63)
  st_shape_overflow       a shape whose element count overflows
  st_overlap              two tensors sharing bytes
  st_duplicate            one tensor named twice in the header
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import torch

out = sys.argv[1]
os.makedirs(os.path.join(out, "hostile"), exist_ok=True)

state = collections.OrderedDict(
    a=torch.arange(6.0).view(2, 3), b=torch.ones(4), c=torch.arange(12.0).view(3, 4).t(),
    n=torch.tensor(7, dtype=torch.int64))
torch.save(state, os.path.join(out, "small.pth"))


def safetensors(entries, blobs, path, header=None):
    text = header if header is not None else json.dumps(entries).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


data = [torch.arange(6.0).numpy().tobytes(), torch.ones(4).numpy().tobytes()]
good = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "F32", "shape": [4], "data_offsets": [24, 40]}}
safetensors(good, data, os.path.join(out, "small.safetensors"))


class Storage:
    """Stands for a torch storage in the pickle: a persistent id, as torch.save writes."""

    def __init__(self, numel):
        self.numel = numel


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", torch.FloatStorage, "0", "cpu", obj.numel)
        return None


def pth(name, offset=0, size=(2, 3), stride=(3, 1), numel=6):
    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(collections.OrderedDict(w=Tensor(Storage(numel), offset, size, stride)))
    with zipfile.ZipFile(os.path.join(out, "hostile", name + ".pth"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buffer.getvalue())
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", torch.arange(6.0).numpy().tobytes())
        z.writestr("archive/version", "3\n")


pth("pth_valid")  # the same construction, honest: it must load
for offset in (-10, -10**7, -10**9):
    pth(f"pth_offset_{offset}", offset=offset)
pth("pth_stride_huge", stride=(2**62, 1))
pth("pth_size_huge", size=(2**32, 2**32), stride=(2**32, 1))
pth("pth_numel_huge", numel=2**62)

for length in (2**64 - 1, 2**63):
    with open(os.path.join(out, "hostile", f"st_header_{length}.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", length) + json.dumps(good).encode())
safetensors({"a": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 24]}}, data,
            os.path.join(out, "hostile", "st_shape_overflow.safetensors"))
safetensors({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
             "b": {"dtype": "F32", "shape": [4], "data_offsets": [16, 32]}}, data,
            os.path.join(out, "hostile", "st_overlap.safetensors"))
safetensors(None, data, os.path.join(out, "hostile", "st_duplicate.safetensors"),
            header=b'{"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, '
                   b'"a": {"dtype": "F32", "shape": [4], "data_offsets": [24, 40]}}')
