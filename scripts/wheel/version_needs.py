"""Holds every ELF file of a wheel (or folder) to manylinux_2_28, as read from the files.

  python3 version_needs.py WHEEL-OR-FOLDER

For each ELF file: the highest symbol version it needs from glibc (GLIBC_), libstdc++
(GLIBCXX_, CXXABI_) and libgcc_s (GCC_), from `objdump -p`'s version references; and
each library it needs (NEEDED) is either in the wheel or one that manylinux_2_28 lets a
wheel take from the system. Prints one line per file and exits 1 on any excess.
"""

import os
import re
import subprocess
import sys
import tempfile
import zipfile

# manylinux_2_28 (PEP 600; auditwheel 6.8's policy, from RHEL 8 and its gcc 8): the
# newest versions a wheel may need, and the libraries it may take from the system (the
# loader itself besides).
LIMITS = {"GLIBC": (2, 28), "GLIBCXX": (3, 4, 24), "CXXABI": (1, 3, 11), "GCC": (7, 0, 0)}
SYSTEM = {
    "libGL.so.1", "libICE.so.6", "libSM.so.6", "libX11.so.6", "libXext.so.6", "libXrender.so.1",
    "libanl.so.1", "libatomic.so.1", "libc.so.6", "libdl.so.2", "libexpat.so.1", "libgcc_s.so.1",
    "libglib-2.0.so.0", "libgobject-2.0.so.0", "libgthread-2.0.so.0", "libm.so.6", "libmvec.so.1",
    "libnsl.so.1", "libpthread.so.0", "libresolv.so.2", "librt.so.1", "libstdc++.so.6", "libutil.so.1",
    "libz.so.1", "ld-linux-x86-64.so.2",
}
VERSION = re.compile(r"^\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (GLIBC|GLIBCXX|CXXABI|GCC)_([0-9.]+)$")


def is_elf(path):
    with open(path, "rb") as handle:
        return handle.read(4) == b"\x7fELF"


def needs(path):
    """({family: highest version tuple}, [NEEDED sonames]) of one ELF file."""
    output = subprocess.run(["objdump", "-p", path], check=True, capture_output=True, text=True).stdout
    highest, needed = {}, []
    for line in output.splitlines():
        found = VERSION.match(line)
        if found:
            family, version = found.group(1), tuple(int(part) for part in found.group(2).split("."))
            highest[family] = max(highest.get(family, version), version)
        elif line.strip().startswith("NEEDED"):
            needed.append(line.split()[-1])
    return highest, needed


def check(folder):
    files = [os.path.join(d, f) for d, _, names in os.walk(folder) for f in names]
    elves = sorted(f for f in files if os.path.isfile(f) and not os.path.islink(f) and is_elf(f))
    shipped = {os.path.basename(f) for f in elves}
    failures, overall = 0, {}
    for path in elves:
        highest, needed = needs(path)
        problems = [
            f"{family}_{'.'.join(map(str, version))} > {'.'.join(map(str, LIMITS[family]))}"
            for family, version in highest.items() if version > LIMITS[family]
        ]
        problems += [f"needs {name}, neither shipped nor allowed from the system"
                     for name in needed if name not in shipped and name not in SYSTEM]
        for family, version in highest.items():
            overall[family] = max(overall.get(family, version), version)
        shown = ", ".join(f"{family}_{'.'.join(map(str, v))}" for family, v in sorted(highest.items()))
        name = os.path.relpath(path, folder)
        if problems:
            failures += 1
            print(f"  FAIL  {name}: {'; '.join(problems)}")
        else:
            print(f"  ok    {name}: {shown or 'no versioned symbols'}")
    if not elves:
        print("  FAIL  no ELF files found")
        return 1
    summary = ", ".join(f"{family}_{'.'.join(map(str, v))}" for family, v in sorted(overall.items()))
    print(f"version-needs: {len(elves)} ELF files; the highest versions any of them needs: {summary}")
    return 1 if failures else 0


def main():
    target = sys.argv[1]
    if os.path.isdir(target):
        sys.exit(check(target))
    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(target) as wheel:
            wheel.extractall(folder)
        sys.exit(check(folder))


if __name__ == "__main__":
    main()
