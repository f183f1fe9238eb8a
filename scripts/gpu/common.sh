# Sourced by the GPU check scripts: `source scripts/gpu/common.sh NAME BUNDLE.tar.xz OUT_DIR`
# (BUNDLE "-": a check that runs no mgpr).
# Unpacks the bundle into a fresh folder, sets $mgpr, $python, $root, $work and $out
# ($work/NAME, archived to OUT_DIR/NAME.tar.gz on exit), defines `step`, and prints the
# machine, the Python stack and mgpr's version.
name="$1"
bundle="$2"
results="${3:-/tmp}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
out="$work/$name"
mkdir -p "$out" "$results"
trap 'tar -czf "$results/$name.tar.gz" -C "$work" "$name"' EXIT
mgpr=""
if [ "$bundle" != - ]; then
    tar -xf "$bundle" -C "$work"
    mgpr="$(ls "$work"/*/bin/mgpr)"
fi
export MGPR_KERNEL_CACHE="$work/kernels" PYTHONUNBUFFERED=1
python="${PYTHON:-python3}"

step() {  # NAME SECONDS COMMAND...
    local name="$1" limit="$2"
    shift 2
    local start=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    echo "== $name: exit $rc in $((SECONDS - start)) s"
    tail -n "${TAIL:-12}" "$out/$name.log" | cut -c1-400
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader
echo "$(ldd --version | head -1); $(nproc) cores; python: $("$python" -c 'import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.version.cuda, torch.backends.cudnn.version())')"
[ -z "$mgpr" ] || "$mgpr" --version || { ldd "$mgpr" | grep -v "$work"; exit 1; }
