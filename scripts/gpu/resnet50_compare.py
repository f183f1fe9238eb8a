"""Checks mgpr's ResNet50 logits (from `mgpr forward`) against each other and against
PyTorch's (resnet50_reference.py), for a case made by resnet50_case.py. Prints a table;
exit status 1 if any check fails or any file is missing.

usage: resnet50_compare.py --case DIR --mgpr-cpu F --mgpr-f32 F --mgpr-f16 F --mgpr-bf16 F
                           [--mgpr-tf32 F]
  --mgpr-cpu   precision=32 accelerator=cpu
  --mgpr-f32   precision=32 accelerator=gpu tf32=false
  --mgpr-f16   precision=16-mixed accelerator=gpu
  --mgpr-bf16  precision=bf16-mixed accelerator=gpu
  --mgpr-tf32  precision=32 accelerator=gpu tf32=true (optional)
Every file is float32 (float64 for torch_f64) [N, classes], rows in inputs.npy's order.

Checks (N inputs; "top-1" = argmax class; relative error = ||a - b|| / ||b|| over all
logits, float64):
  gpu-f32 = cpu   max |gpu - cpu| <= 1e-3 * max |cpu|, and the same top-1 on every
                  input, except where the float64 reference's top-2 margin is below 1e-4
                  of that input's max |logit| (a near-tie float32 may settle either way:
                  such mismatches are listed and allowed).
  cpu/gpu ~ f64   relative error vs torch_f64 reported, beside torch's own f32's; also
                  bounded by 1e-3 (this network in float32 is ~1e-6 from float64; 1e-3
                  catches wrong weights or normalisation, which an mgpr-vs-mgpr check
                  cannot).
  f16, bf16       top-1 agreement with mgpr's own f32 (GPU) >= 95% of inputs, and not
                  worse than PyTorch's autocast against PyTorch's f32 on the same inputs
                  by more than one input; relative error vs torch_f64 reported for both,
                  and (information) the flips on clear inputs, whose float64 top-2 margin
                  is >= 1% of their max |logit|: rounding flips near-ties, a fault flips
                  any.
                  Flips are few and land on near-ties, so "torch - 1" is a tight bar: two
                  implementations of equal accuracy differ by 2+ flips now and then.
  tf32            (only with --mgpr-tf32) as f16/bf16, against torch_tf32.
"""
import argparse
import os
import sys

import numpy as np

FAILED = []  # names of the checks that failed or lacked a file


def load(path, label):
    """The [N, classes] array at path, or None (reported) if absent or unusable."""
    if not path or not os.path.isfile(path):
        print(f"  missing: {label} ({path})")
        return None
    try:
        a = np.load(path)
    except Exception as e:  # a truncated or foreign file counts as missing
        print(f"  unreadable: {label} ({path}): {e}")
        return None
    if a.ndim != 2 or not np.isfinite(a).all():
        print(f"  unusable: {label} ({path}): shape {a.shape}, finite {np.isfinite(a).all()}")
        return None
    return a.astype(np.float64)


def row(check, ok, detail):
    """ok: True (PASS), False (FAIL), None (MISSING: a file was absent), 'info'."""
    if ok is not None and ok != "info":
        ok = bool(ok)  # numpy's bools are not `False`
    status = {True: "PASS", False: "FAIL", None: "MISSING", "info": "info"}[ok]
    if ok is False or ok is None:
        FAILED.append(check)
    print(f"{check:<16} {status:<7} {detail}")


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def agree(a, b):
    return int((a.argmax(1) == b.argmax(1)).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", required=True)
    for name in ("cpu", "f32", "f16", "bf16"):
        ap.add_argument(f"--mgpr-{name}", required=True)
    ap.add_argument("--mgpr-tf32")
    args = ap.parse_args()

    print("loading:")
    torch_ = {k: load(os.path.join(args.case, f"torch_{k}.npy"), f"torch_{k}")
              for k in ("f64", "f32", "tf32", "f16", "bf16")}
    mgpr = {k: load(getattr(args, f"mgpr_{k}"), f"mgpr {k}") for k in ("cpu", "f32", "f16", "bf16")}
    if args.mgpr_tf32:
        mgpr["tf32"] = load(args.mgpr_tf32, "mgpr tf32")
    f64 = torch_["f64"]
    if f64 is not None:  # every other output must match the oracle's shape
        for group in (torch_, mgpr):
            for k, a in group.items():
                if a is not None and a.shape != f64.shape:
                    print(f"  unusable: {k}: shape {a.shape}, torch_f64 has {f64.shape}")
                    group[k] = None
    n = None if f64 is None else len(f64)
    print(f"{n} inputs\n")
    print(f"{'check':<16} {'result':<7} detail")

    # Near-ties in the oracle: inputs whose top-1 float32 may legitimately flip.
    tie = None
    if f64 is not None:
        top2 = np.sort(f64, axis=1)[:, -2:]
        tie = (top2[:, 1] - top2[:, 0]) < 1e-4 * np.abs(f64).max(1)
        close = (top2[:, 1] - top2[:, 0]) < 1e-2 * np.abs(f64).max(1)

    cpu, gpu = mgpr["cpu"], mgpr["f32"]
    if cpu is None or gpu is None or f64 is None:
        row("gpu-f32 = cpu", None, "needs mgpr cpu, mgpr f32 and torch_f64")
    else:
        d = np.abs(gpu - cpu).max() / np.abs(cpu).max()
        differ = np.nonzero(gpu.argmax(1) != cpu.argmax(1))[0]
        allowed = [int(i) for i in differ if tie[i]]
        bad = [int(i) for i in differ if not tie[i]]
        row("gpu-f32 = cpu", d <= 1e-3 and not bad,
            f"max|d|/max|cpu| {d:.2e} (<= 1e-3); top-1 equal {n - len(differ)}/{n}"
            + (f", near-tie mismatches allowed at {allowed}" if allowed else "")
            + (f", MISMATCHES at {bad[:20]}" if bad else "")
            + f" [{int(tie.sum())} near-ties in f64]")

    for name, a in (("cpu", cpu), ("gpu-f32", gpu)):
        if a is None or f64 is None:
            row(f"{name} ~ f64", None, "needs its file and torch_f64")
            continue
        r = rel(a, f64)
        ref = "" if torch_["f32"] is None else f", torch f32 {rel(torch_['f32'], f64):.2e}"
        row(f"{name} ~ f64", r <= 1e-3, f"rel. error {r:.2e} (<= 1e-3{ref}); top-1 = f64 {agree(a, f64)}/{n}")

    for name in ("f16", "bf16", "tf32"):
        if name not in mgpr:
            continue  # tf32 only when asked for
        low, tlow = mgpr[name], torch_[name]
        if low is None or gpu is None or tlow is None or torch_["f32"] is None or f64 is None:
            row(f"{name} top-1", None, f"needs mgpr {name}, mgpr f32, torch_{name}, torch_f32, torch_f64")
            continue
        ours, theirs = agree(low, gpu), agree(tlow, torch_["f32"])
        need = max(int(np.ceil(0.95 * n)), theirs - 1)
        # Flips concentrate on inputs whose top-2 are close; count those on clear inputs
        # (f64 margin >= 1% of max |logit|) apart, to tell noise from a fault.
        clear = ~close
        flips = [int(((a.argmax(1) != b.argmax(1)) & clear).sum()) for a, b in ((low, gpu), (tlow, torch_["f32"]))]
        row(f"{name} top-1", ours >= need,
            f"= own f32: mgpr {ours}/{n} ({100 * ours / n:.1f}%), torch {theirs}/{n} ({100 * theirs / n:.1f}%); "
            f"need >= {need} (95% and torch - 1); flips on the {int(clear.sum())} clear inputs: "
            f"mgpr {flips[0]}, torch {flips[1]}")
        row(f"{name} ~ f64", "info", f"rel. error mgpr {rel(low, f64):.2e}, torch {rel(tlow, f64):.2e}")

    print(f"\n{'FAILED: ' + ', '.join(FAILED) if FAILED else 'all checks passed'}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
