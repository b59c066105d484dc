#!/usr/bin/env bash
# Time SDXL base 1.0 and FLUX.1-schnell (random weights from the published configs, built in
# memory on this machine's GPU; nothing downloaded or saved): seconds per image at batch 1 and
# batch 4, SDXL in bf16 and fp16 at 30 steps, FLUX in bf16 at 4 steps, both 1024x1024.
# Usage: bash benchmarks/gpu_families.sh [SIZE [ROUNDS]] (default 1024 pixels, 2 rounds);
# figures go to stdout as they come, one section each. Needs about 35 GB of GPU memory for
# FLUX and fits in about 8 minutes on an H200 (each section is cut off at its limit, and the
# next one still runs).
set -u
size="${1:-1024}"
rounds="${2:-2}"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
python="${PYTHON:-python3}"
status=0
section() {
    local limit="$1"
    shift
    echo "== $*"
    timeout "$limit" "$python" "$@" || { echo "(exit $?)"; status=1; }
}
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv || true
section 240 benchmarks/engine.py --arch sdxl --size "$size" --steps 30 --rounds "$rounds"
section 240 benchmarks/engine.py --arch flux --size "$size" --steps 4 --rounds "$rounds"
exit "$status"
