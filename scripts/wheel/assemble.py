"""Writes a wheel (PEP 427) from a package tree: assemble.py TREE OUTDIR VERSION.

TREE holds the `mgpr` package folder; the wheel gets its files, the dist-info that pip
reads (METADATA, WHEEL, entry_points.txt, RECORD with each file's sha256) and the
executable bits of bin/. Prints the wheel's path.
"""

import base64
import hashlib
import os
import stat
import sys
import zipfile

TAG = "py3-none-manylinux_2_28_x86_64"

METADATA = """Metadata-Version: 2.1
Name: mgpr
Version: {version}
Summary: Runs convolutional networks (Faster R-CNN, RetinaNet, ResNet50, DeepForest's models) over every tile of huge geospatial rasters, on CPUs and NVIDIA GPUs, on every device and SLURM node
Requires-Python: >=3.8
Provides-Extra: cuda
Requires-Dist: nvidia-cudnn-cu13>=9; extra == "cuda"
Requires-Dist: nvidia-cuda-nvrtc>=13; extra == "cuda"
Requires-Dist: nvidia-cublas>=13; extra == "cuda"
Provides-Extra: geo
Requires-Dist: geopandas; extra == "geo"
Description-Content-Type: text/markdown

mgpr as one native binary with GDAL, PROJ and oneDNN inside, for Linux x86-64 with
glibc 2.28 or newer. `mgpr --help` lists its settings; `python -m mgpr` is the same
command; `mgpr.predict(image_path, **settings)` runs it from Python. `pip install
mgpr[cuda]` adds cuDNN 9, NVRTC and cuBLAS for NVIDIA GPUs (mgpr finds them in the
active environment).
"""

WHEEL = """Wheel-Version: 1.0
Generator: mgpr scripts/wheel/assemble.py
Root-Is-Purelib: false
Tag: {tag}
"""

ENTRY_POINTS = """[console_scripts]
mgpr = mgpr:main
mgpr-test-image = mgpr:test_image_main
"""


def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main():
    tree, outdir, version = sys.argv[1:4]
    name = f"mgpr-{version}-{TAG}.whl"
    info = f"mgpr-{version}.dist-info"
    path = os.path.join(outdir, name)
    records = []
    with zipfile.ZipFile(path + ".part", "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as wheel:

        def add(arcname, data, mode=0o644):
            entry = zipfile.ZipInfo(arcname, date_time=(2026, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = (stat.S_IFREG | mode) << 16
            wheel.writestr(entry, data, compresslevel=9)
            records.append(f"{arcname},{digest(data)},{len(data)}")

        for folder, subfolders, files in os.walk(os.path.join(tree, "mgpr")):
            subfolders.sort()
            for file in sorted(files):
                full = os.path.join(folder, file)
                with open(full, "rb") as handle:
                    data = handle.read()
                executable = os.stat(full).st_mode & stat.S_IXUSR
                add(os.path.relpath(full, tree), data, 0o755 if executable else 0o644)
        add(f"{info}/METADATA", METADATA.format(version=version).encode())
        add(f"{info}/WHEEL", WHEEL.format(tag=TAG).encode())
        add(f"{info}/entry_points.txt", ENTRY_POINTS.encode())
        records.append(f"{info}/RECORD,,")
        add_record = "\n".join(records) + "\n"
        entry = zipfile.ZipInfo(f"{info}/RECORD", date_time=(2026, 1, 1, 0, 0, 0))
        entry.external_attr = (stat.S_IFREG | 0o644) << 16
        wheel.writestr(entry, add_record, compress_type=zipfile.ZIP_DEFLATED)
    os.replace(path + ".part", path)
    print(path)


if __name__ == "__main__":
    main()
