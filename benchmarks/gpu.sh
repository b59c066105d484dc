#!/usr/bin/env bash
# Time full-size Stable Diffusion 1.5 (random weights, nothing downloaded) on this machine's GPU:
# queue batching with 4-image grids and with single images, then each engine optimisation.
# Usage: bash benchmarks/gpu.sh [SIZE [STEPS]] (default 512 pixels, each script's own steps);
# figures go to stdout, one section each.
# A section that runs past its time limit is cut off and the next one still runs.
set -u
size="${1:-512}"
steps=()
[ $# -ge 2 ] && steps=(--steps "$2")
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
python="${PYTHON:-python3}"
status=0
section() {
    local limit="$1"
    shift
    echo "== $*"
    timeout "$limit" "$python" "$@" "${steps[@]}" --sd15-dir "$cache" || { echo "(exit $?)"; status=1; }
}
section 300 benchmarks/batching.py --arch sd15 --size "$size" --rounds 2
section 150 benchmarks/batching.py --arch sd15 --size "$size" --rounds 2 --images-per-job 1
section 300 benchmarks/engine.py --arch sd15 --size "$size" --rounds 2
# compile: true, eager and compiled side by side, compile time cold and from the cache (a cold
# compile of the SD 1.5 UNet takes minutes).
section 900 benchmarks/compile.py --arch sd15 --rounds 3
exit "$status"
