#!/usr/bin/env bash
# Time full-size random-weight models (nothing downloaded) on this machine's GPU: compile: true
# against eager for SD 1.5, SDXL and FLUX.1-schnell, host syncs per step, then SD 1.5's queue
# batching with 4-image grids and single images, and each engine optimisation.
# Usage: bash benchmarks/gpu.sh [--quick] [SIZE [STEPS]] (default 512 pixels, each script's own
# steps); figures go to stdout, one section each. --quick runs only SD 1.5's headline sections
# (compile, --fast, the layout switches) in under 10 minutes, for a short lease of a GPU.
# A section that runs past its time limit is cut off and the next one still runs.
set -u
quick=0
if [ "${1:-}" = "--quick" ]; then
    quick=1
    shift
fi
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
if [ "$quick" = 1 ]; then
    section 330 benchmarks/compile.py --arch sd15 --rounds 2 --images 1
    section 120 benchmarks/fast.py --arch sd15 --rounds 2
    section 120 benchmarks/layouts.py --arch sd15 --rounds 2 --images 1
    exit "$status"
fi
# compile: true first (the headline figures): eager and compiled side by side, compile time
# cold and from the cache; a cold compile of a full-size UNet takes minutes.
section 900 benchmarks/compile.py --arch sd15 --rounds 3
section 900 benchmarks/compile.py --arch sd15 --rounds 3 --images 1
section 1500 benchmarks/compile.py --arch sdxl --steps 30 --images 1 --rounds 2
section 1500 benchmarks/compile.py --arch sdxl --steps 30 --images 4 --rounds 2
section 1800 benchmarks/compile.py --arch flux --steps 4 --images 1 --rounds 2
# CUDA graphs two ways: inductor's reduce-overhead against a hand-captured torch.cuda.CUDAGraph
section 900 benchmarks/cuda_graphs.py --images 1
section 900 benchmarks/cuda_graphs.py --images 4
# --fast (DeepCache on the UNet, the first-block cache on FLUX, dev-like 28 steps) and the
# layout switches (fused QKV, channels-last) side by side
section 300 benchmarks/fast.py --arch sd15 --rounds 2
section 600 benchmarks/fast.py --arch flux --steps 28 --images 1 --rounds 2
section 300 benchmarks/layouts.py --arch sd15 --rounds 2
section 300 benchmarks/host_syncs.py --arch sd15
section 300 benchmarks/host_syncs.py --arch sd15 --preview-every 5
# the earlier figures: queue batching and each engine switch
section 300 benchmarks/batching.py --arch sd15 --size "$size" --rounds 2
section 150 benchmarks/batching.py --arch sd15 --size "$size" --rounds 2 --images-per-job 1
section 300 benchmarks/engine.py --arch sd15 --size "$size" --rounds 2
exit "$status"
