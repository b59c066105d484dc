"""Count the host syncs in Easel's denoising loop with the PyTorch profiler.

A step that reads a tensor's value on the host (``.item()``, ``bool(tensor)``, a copy to the
CPU) waits for the device to finish, and between such waits the GPU idles while Python runs:
at SD 1.5's ~20 ms a step that is the gap that CUDA graphs cannot close. This draws one image
through the engine twice, at ``--step-counts`` A and B, under the profiler, and prints the sync-like
operations per extra step (the difference between the two runs, so the work before and after
the loop cancels out) and the slowest operations::

    python benchmarks/host_syncs.py [--config config.yaml] [--step-counts 4 8] [--preview-every 0]
    python benchmarks/host_syncs.py --arch sd15 [--sd15-dir DIR]     # on a GPU

Operations counted: ``aten::_local_scalar_dense`` (``.item()`` and friends), ``aten::nonzero``
(data-dependent shapes), and on CUDA device-to-host copies (``Memcpy DtoH``) and stream syncs.
On the host the profiler records only the thread that draws: the preview thread's copies of
latents to the CPU wait beside the loop, not in it (on CUDA, their ``Memcpy DtoH`` still shows
among the device's activities, every ``--preview-every`` steps).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.sd15 import prepare_random_sd15
from pipeline.config import PipelineConfig
from pipeline.config_file import load_config
from pipeline.engine import Engine

SYNCS = ("aten::_local_scalar_dense", "aten::nonzero", "Memcpy DtoH", "cudaStreamSynchronize")


def load(arguments: argparse.Namespace) -> Engine:
    """Load the configured default model (or a random SD 1.5 on the GPU) with previews as asked."""
    config = load_config(arguments.config, PipelineConfig)
    entry = config.default_model
    if arguments.arch == "sd15":
        folder = Path(arguments.sd15_dir or tempfile.mkdtemp())
        model = {"path": str(prepare_random_sd15(folder)), "dtype": "float16", "device": "cuda"}
        entry = entry.model_copy(update=model)
    generation = config.generation.model_copy(update={"preview_every": arguments.preview_every})
    update: dict[str, object] = {"model": entry, "models": (), "generation": generation}
    return Engine.from_config(config.model_copy(update=update))


def counted(engine: Engine, steps: int) -> tuple[Counter[str], list[tuple[str, float]]]:
    """Draw one image at ``steps`` under the profiler; return sync counts and the slowest ops."""
    request = replace(engine.parse(f"a lighthouse --seed 1 --steps {steps}"), num_images=1)
    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as profiler:
        engine.generate(request, progress=lambda _progress: None)
    counts: Counter[str] = Counter()
    slowest = []
    for event in profiler.key_averages():
        if event.key.startswith(SYNCS):
            counts[event.key] += event.count
        slowest.append((event.key, event.cpu_time_total / 1000))
    return counts, sorted(slowest, key=lambda item: -item[1])[:8]


def main() -> None:
    """Profile two step counts and print the syncs each extra step adds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--arch", choices=["configured", "sd15"], default="configured")
    parser.add_argument("--sd15-dir", default=None)
    parser.add_argument("--step-counts", type=int, nargs=2, default=(4, 8))
    parser.add_argument("--preview-every", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="ignored (gpu.sh passes it)")
    arguments = parser.parse_args()
    engine = load(arguments)
    low, high = arguments.step_counts
    counted(engine, low)  # warm-up: first-call allocations and lazy set-up stay out
    few, _ = counted(engine, low)
    many, slowest = counted(engine, high)
    extra = high - low
    print(f"{engine.model.name} on {engine.model.device}, preview_every {arguments.preview_every}")
    for name in sorted(set(few) | set(many)):
        per_step = (many[name] - few[name]) / extra
        runs = f"{few[name]} at {low} steps, {many[name]} at {high}"
        print(f"  {name}: {per_step:.2f} per step ({runs})")
    if not few and not many:
        print("  no host syncs counted")
    print(f"slowest operations at {high} steps (CPU time, ms):")
    for name, milliseconds in slowest:
        print(f"  {milliseconds:10.1f}  {name}")


if __name__ == "__main__":
    main()
