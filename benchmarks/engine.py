"""Measure the engine's speed; every figure is printed, ratios are measured side by side.

Default mode (any machine): images per second for four images drawn one call each (batch 1)
versus one call of four (batch 4), with the configured model, interleaved round by round so
both see the same machine load::

    python benchmarks/engine.py [--config config.yaml] [--steps 20] [--rounds 3]

GPU mode: a randomly initialised full-size Stable Diffusion 1.5 (UNet, VAE and text encoder
built from SD 1.5's published configs, so the FLOPs are the real model's; nothing is
downloaded), saved once to a temporary folder and loaded through Easel's own loader with each
optimisation switch, timing denoising iterations per second at batch 1 with classifier-free
guidance::

    python benchmarks/engine.py --arch sd15 --size 512 [--steps 30] [--sd15-dir DIR]

``--sd15-dir`` keeps the random model (about 2 GB) for the next run, or for batching.py.

On a CPU one full-size UNet step takes seconds; pass --allow-cpu --size 64 to smoke-test.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.sd15 import prepare_random_sd15
from pipeline.config import PipelineConfig, load_config
from pipeline.engine import Engine, Progress


@dataclass(frozen=True)
class Variant:
    """One combination of optimisation switches to time."""

    label: str
    dtype: str
    attention: str = "sdpa"
    channels_last: bool = False
    compile: bool = False


GPU_VARIANTS = (
    Variant("fp32, classic attention", "float32", attention="classic"),
    Variant("fp32, SDPA", "float32"),
    Variant("fp16, SDPA", "float16"),
    Variant("bf16, SDPA", "bfloat16"),
    Variant("fp16, SDPA, channels_last", "float16", channels_last=True),
    Variant(
        "fp16, SDPA, channels_last, torch.compile", "float16", channels_last=True, compile=True
    ),
)


def main() -> None:
    """Parse the command line and run the chosen benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--arch", choices=["configured", "sd15"], default="configured")
    parser.add_argument("--size", type=int, default=512, help="sd15 mode: image side in pixels")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--allow-cpu", action="store_true", help="sd15 mode without a GPU")
    parser.add_argument(
        "--sd15-dir", type=Path, default=None, help="sd15 mode: keep the random model here"
    )
    arguments = parser.parse_args()
    if arguments.arch == "sd15":
        benchmark_sd15(arguments)
    else:
        benchmark_batching(load_config(arguments.config, PipelineConfig), arguments)


def benchmark_batching(config: PipelineConfig, arguments: argparse.Namespace) -> None:
    """Print images/s for batch 1 versus batch 4 with the configured model."""
    engine = Engine.from_config(config)
    request = engine.parse(f"a yellow star on a purple background --steps {arguments.steps}")
    single = replace(request, num_images=1)
    engine.generate(replace(request, steps=2))  # warm-up: first-call allocations
    batch1_times: list[float] = []
    batch4_times: list[float] = []
    for round_index in range(arguments.rounds):
        started = time.perf_counter()
        for offset in range(4):
            engine.generate(replace(single, seed=request.seed + round_index * 4 + offset))
        batch1_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        engine.generate(replace(request, seed=request.seed + round_index * 4))
        batch4_times.append(time.perf_counter() - started)
    batch1 = 4 / statistics.median(batch1_times)
    batch4 = 4 / statistics.median(batch4_times)
    device = engine.model.device
    print(f"model: {config.model.path} on {device} ({torch.get_num_threads()} threads)")
    print(f"size {request.width}x{request.height}, {request.steps} steps, {request.sampler}")
    print(f"batch 1: {batch1:.3f} images/s   (median of {arguments.rounds} rounds of 4 images)")
    print(f"batch 4: {batch4:.3f} images/s")
    print(f"batch 4 / batch 1: {batch4 / batch1:.2f}x")


def benchmark_sd15(arguments: argparse.Namespace) -> None:
    """Print denoising it/s at batch 1 with CFG for each optimisation switch."""
    if not torch.cuda.is_available() and not arguments.allow_cpu:
        sys.exit("the sd15 mode needs a CUDA GPU (or --allow-cpu with a small --size)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    variants = GPU_VARIANTS if device == "cuda" else GPU_VARIANTS[:2]
    size, steps, rounds = arguments.size, arguments.steps, arguments.rounds
    with tempfile.TemporaryDirectory() as folder:
        model_dir = prepare_random_sd15(arguments.sd15_dir or Path(folder))
        print(f"SD 1.5 architecture, random weights, {size}x{size}, batch 1 with CFG, {device}")
        if device == "cuda":
            print(f"GPU: {torch.cuda.get_device_name()}")
        baseline = None
        for variant in variants:
            rate, latency = time_variant(
                model_dir, Path(folder), variant, size=size, steps=steps, rounds=rounds
            )
            baseline = baseline or rate
            print(
                f"{variant.label:45s} {rate:7.2f} it/s  {latency:6.2f} s/image  "
                f"{rate / baseline:5.2f}x"
            )


def time_variant(
    model_dir: Path, folder: Path, variant: Variant, *, size: int, steps: int, rounds: int
) -> tuple[float, float]:
    """Load the model with one variant's switches and return (it/s, seconds per image)."""
    config = PipelineConfig.model_validate(
        {
            "data_dir": str(folder / "data"),
            "model": {
                "path": str(model_dir),
                "dtype": variant.dtype,
                "attention": variant.attention,
                "channels_last": variant.channels_last,
                "compile": variant.compile,
            },
            "generation": {"max_steps": max(steps, 60)},
        }
    )
    engine = Engine.from_config(config)
    request = replace(
        engine.parse(f"a red fox in the snow --steps {steps} --sampler Euler --cfg 7.5"),
        width=size,
        height=size,
        num_images=1,
    )
    engine.generate(replace(request, steps=3))  # warm-up (and compilation)
    rates: list[float] = []
    latencies: list[float] = []
    for _ in range(rounds):
        stamps: list[float] = []

        def on_step(_progress: Progress, stamps: list[float] = stamps) -> None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

        started = time.perf_counter()
        engine.generate(request, progress=on_step)
        latencies.append(time.perf_counter() - started)
        rates.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    del engine
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return statistics.median(rates), statistics.median(latencies)


if __name__ == "__main__":
    main()
