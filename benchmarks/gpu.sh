#!/usr/bin/env bash
# Time full-size random-weight models (nothing downloaded) on this machine's GPU: compile: true
# against eager for SD 1.5, SDXL and FLUX.1-schnell, host syncs per step, then SD 1.5's queue
# batching with 4-image grids and single images, and each engine optimisation.
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
# compile: true first (the headline figures): eager and compiled side by side, compile time
# cold and from the cache; a cold compile of a full-size UNet takes minutes.
section 900 benchmarks/compile.py --arch sd15 --rounds 3
section 900 benchmarks/compile.py --arch sd15 --rounds 3 --images 1
section 1500 benchmarks/compile.py --arch sdxl --steps 30 --images 1 --rounds 2
section 1500 benchmarks/compile.py --arch sdxl --steps 30 --images 4 --rounds 2
section 1800 benchmarks/compile.py --arch flux --steps 4 --images 1 --rounds 2
section 300 benchmarks/host_syncs.py --arch sd15
section 300 benchmarks/host_syncs.py --arch sd15 --preview-every 5
# the earlier figures: queue batching and each engine switch
section 300 benchmarks/batching.py --arch sd15 --size "$size" --rounds 2
section 150 benchmarks/batching.py --arch sd15 --size "$size" --rounds 2 --images-per-job 1
section 300 benchmarks/engine.py --arch sd15 --size "$size" --rounds 2
exit "$status"
