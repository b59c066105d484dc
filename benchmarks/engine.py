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

Large-model mode: a randomly initialised SDXL base 1.0 or FLUX.1-schnell (see
``large_models.py``; built in memory on the GPU, nothing downloaded or saved), timing seconds
per image at batch 1 (four calls of one image) and batch 4 (one call of four), interleaved
round by round, for each precision (bf16 and fp16 for SDXL, bf16 for FLUX)::

    python benchmarks/engine.py --arch sdxl [--size 1024] [--steps 30] [--rounds 2]
    python benchmarks/engine.py --arch flux [--size 1024] [--steps 4] [--rounds 2]

On a CPU one full-size UNet step takes seconds; pass --allow-cpu --size 64 to smoke-test
sd15, and --allow-cpu --tiny --size 64 to smoke-test sdxl or flux with the tests' tiny
models of the same families.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.large_models import ARCHITECTURES, build_random, engine_for
from benchmarks.sd15 import prepare_random_sd15
from pipeline.config import PipelineConfig
from pipeline.config_file import load_config
from pipeline.engine import Engine, Progress

if TYPE_CHECKING:
    from pipeline.request import GenerationRequest


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
LARGE_VARIANTS = {
    "sdxl": (Variant("bf16, SDPA", "bfloat16"), Variant("fp16, SDPA", "float16")),
    "flux": (Variant("bf16, SDPA", "bfloat16"),),
}
CPU_VARIANT = Variant("fp32, SDPA", "float32")
# (side in pixels, steps) when the command line does not say: each model's usual.
DEFAULT_SHAPES = {"configured": (512, 20), "sd15": (512, 20), "sdxl": (1024, 30), "flux": (1024, 4)}


@dataclass
class BatchTimes:
    """Seconds per round for four images one call each (batch 1) and in one call (batch 4)."""

    batch1: list[float] = field(default_factory=list)
    batch4: list[float] = field(default_factory=list)

    def images_per_second(self) -> tuple[float, float]:
        """Return (batch 1, batch 4) images per second, from the median rounds."""
        return 4 / statistics.median(self.batch1), 4 / statistics.median(self.batch4)


def main() -> None:
    """Parse the command line and run the chosen benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument(
        "--arch", choices=["configured", "sd15", *ARCHITECTURES], default="configured"
    )
    parser.add_argument(
        "--size", type=int, default=None, help="image side in pixels (sd15 512, sdxl/flux 1024)"
    )
    parser.add_argument("--steps", type=int, default=None, help="default 20, sdxl 30, flux 4")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--allow-cpu", action="store_true", help="GPU modes without a GPU")
    parser.add_argument(
        "--tiny", action="store_true", help="sdxl/flux: the tests' tiny models (CPU smoke test)"
    )
    parser.add_argument(
        "--shallow",
        action="store_true",
        help="sdxl/flux: published widths, one layer per stack (CPU shape check)",
    )
    parser.add_argument(
        "--sd15-dir", type=Path, default=None, help="sd15 mode: keep the random model here"
    )
    arguments = parser.parse_args()
    size, steps = DEFAULT_SHAPES[arguments.arch]
    arguments.size = arguments.size or size
    arguments.steps = arguments.steps or steps
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if arguments.arch == "sd15":
        benchmark_sd15(arguments)
    elif arguments.arch in ARCHITECTURES:
        benchmark_large(arguments)
    else:
        benchmark_batching(load_config(arguments.config, PipelineConfig), arguments)


def benchmark_batching(config: PipelineConfig, arguments: argparse.Namespace) -> None:
    """Print images/s for batch 1 versus batch 4 with the configured model."""
    engine = Engine.from_config(config)
    request = engine.parse(f"a yellow star on a purple background --steps {arguments.steps}")
    times = time_batch_sizes(engine, request, arguments.rounds)
    batch1, batch4 = times.images_per_second()
    device = engine.model.device
    print(f"model: {config.default_model.path} on {device} ({torch.get_num_threads()} threads)")
    print(f"size {request.width}x{request.height}, {request.steps} steps, {request.sampler}")
    print(f"batch 1: {batch1:.3f} images/s   (median of {arguments.rounds} rounds of 4 images)")
    print(f"batch 4: {batch4:.3f} images/s")
    print(f"batch 4 / batch 1: {batch4 / batch1:.2f}x")


def time_batch_sizes(
    engine: Engine, request: GenerationRequest, rounds: int, *, verbose: bool = False
) -> BatchTimes:
    """Time four one-image calls against one four-image call, alternating round by round."""
    single = replace(request, num_images=1)
    grid = replace(request, num_images=4)
    # Warm-up: first-call allocations (and kernel selection) for both batch sizes.
    engine.generate(replace(single, steps=2))
    engine.generate(replace(grid, steps=2))
    times = BatchTimes()
    for round_index in range(rounds):
        started = time.perf_counter()
        for offset in range(4):
            engine.generate(replace(single, seed=request.seed + round_index * 4 + offset))
        times.batch1.append(time.perf_counter() - started)
        started = time.perf_counter()
        engine.generate(replace(grid, seed=request.seed + round_index * 4))
        times.batch4.append(time.perf_counter() - started)
        if verbose:
            print(
                f"  round {round_index + 1}: 4 x batch 1 in {times.batch1[-1]:.2f} s, "
                f"1 x batch 4 in {times.batch4[-1]:.2f} s"
            )
    return times


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


def benchmark_large(arguments: argparse.Namespace) -> None:
    """Print seconds per image at batch 1 and batch 4 for each precision of SDXL or FLUX."""
    arch, size, steps = arguments.arch, arguments.size, arguments.steps
    if not torch.cuda.is_available() and not arguments.allow_cpu:
        sys.exit(f"the {arch} mode needs a CUDA GPU (or --allow-cpu --tiny with a small --size)")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    variants = LARGE_VARIANTS[arch] if device.type == "cuda" else (CPU_VARIANT,)
    kind = "tiny test model" if arguments.tiny else "published architecture, random weights"
    if arguments.shallow and not arguments.tiny:
        kind = "published widths, one layer per stack, random weights"
    print(f"{arch} ({kind}), {size}x{size}, {steps} steps, on {device}")
    if device.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name()}")
    started = time.perf_counter()
    dtype = getattr(torch, variants[0].dtype)
    pipe = build_random(arch, device, dtype, tiny=arguments.tiny, shallow=arguments.shallow)
    if device.type == "cuda":
        torch.cuda.synchronize()
    print(f"built in {time.perf_counter() - started:.1f} s")
    for variant in variants:
        engine = engine_for(pipe, arch, device, getattr(torch, variant.dtype))
        prompt = "a red fox in the snow" + (" --cfg 7.5" if arch == "sdxl" else "")
        request = replace(
            engine.parse(f"{prompt} --steps {steps}"), width=size, height=size, num_images=1
        )
        print(
            f"{variant.label}: {engine.model.traits.weights_bytes / 1e9:.2f} GB of weights, "
            f"sampler {request.sampler}, guidance {request.guidance}"
        )
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        batch1, batch4 = time_batch_sizes(
            engine, request, arguments.rounds, verbose=True
        ).images_per_second()
        peak = (
            f", peak {torch.cuda.max_memory_allocated() / 1e9:.1f} GB"
            if device.type == "cuda"
            else ""
        )
        print(
            f"{variant.label:12s} batch 1: {1 / batch1:7.3f} s/image ({batch1:.3f} images/s)   "
            f"batch 4: {1 / batch4:7.3f} s/image ({batch4:.3f} images/s)   "
            f"batch 4 / batch 1: {batch4 / batch1:.2f}x{peak}"
        )
        del engine
        gc.collect()


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
