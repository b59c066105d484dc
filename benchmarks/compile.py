"""Measure compile: true: eager against compiled denoising, and compile time cold and cached.

One engine with ``compile: true`` compiles one bucket (a grid of ``--images`` at the model's
native size) through the real warm-up, timed cold (an empty ``<data_dir>/compile-cache``), then
a fresh process compiles it again from that cache. Then eager and compiled draws of the same
grid alternate round by round (eager forced with ``torch.compiler.set_stance``), so both see
the same machine::

    python benchmarks/compile.py [--config config.yaml] [--steps 25] [--rounds 3]
    python benchmarks/compile.py --arch sd15 [--sd15-dir DIR]   # SD 1.5 512², on a GPU
    python benchmarks/compile.py --arch sdxl --steps 30 --images 1   # SDXL 1024²
    python benchmarks/compile.py --arch flux --steps 4 --images 1    # FLUX.1-schnell 1024²

``--vae`` compiles the VAE decoder too (``compiled.vae``); ``--no-fuse-qkv`` and
``--channels-last`` flip those switches (``compiled.fuse_qkv``, ``model.channels_last``),
each run printing them first. It prints the denoising iterations
per second and seconds per grid of each, their ratio, the largest pixel difference between the
two, and both compile times.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.large_models import prepare_random_flux, prepare_random_sdxl
from benchmarks.sd15 import prepare_random_sd15
from pipeline.config import PipelineConfig
from pipeline.config_file import load_config
from pipeline.engine import Engine
from pipeline.warm_up import start_warming

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipeline.request import GenerationRequest


# Random full-size models (nothing downloaded), built and saved once, and their precision.
RANDOM_MODELS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "sd15": (prepare_random_sd15, "float16"),
    "sdxl": (prepare_random_sdxl, "bfloat16"),
    "flux": (prepare_random_flux, "bfloat16"),
}


def timed_model_parser(doc: str | None) -> argparse.ArgumentParser:
    """Return a parser of the arguments every timed-model benchmark takes."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--arch", choices=["configured", *RANDOM_MODELS], default="configured")
    parser.add_argument("--sd15-dir", default=None, help="where random models are kept")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    return parser


def timed_model(arguments: argparse.Namespace) -> PipelineConfig:
    """Return the config with its default model alone: ``--arch``'s random one, if asked."""
    config = load_config(arguments.config, PipelineConfig)
    entry = config.default_model
    if arguments.arch in RANDOM_MODELS:
        prepare, dtype = RANDOM_MODELS[arguments.arch]
        model_dir = prepare(Path(arguments.sd15_dir or tempfile.mkdtemp()))
        update = {"path": str(model_dir), "dtype": dtype, "device": "cuda"}
        entry = entry.model_copy(update=update)
    return config.model_copy(update={"model": entry, "models": ()})


def compiled_config(arguments: argparse.Namespace, data_dir: Path) -> PipelineConfig:
    """Return the timed model with compile: true and one warm-up bucket."""
    config = timed_model(arguments)
    entry = config.model
    warm_up = (f"1:1x{arguments.images}",)
    switches = {"vae": arguments.vae, "fuse_qkv": arguments.fuse_qkv}
    compiled = entry.compiled.model_copy(update={"warm_up": warm_up, **switches})
    update = {"compile": True, "compiled": compiled, "channels_last": arguments.channels_last}
    entry = entry.model_copy(update=update)
    return config.model_copy(update={"model": entry, "data_dir": data_dir})


def warm(arguments: argparse.Namespace, data_dir: Path) -> tuple[Engine, float]:
    """Load the engine and compile its bucket; return it and the compile's seconds."""
    engine = Engine.from_config(compiled_config(arguments, data_dir))
    started = time.perf_counter()
    thread = start_warming(engine)
    assert thread is not None
    thread.join()
    if not engine.compiled or not engine.compiled.warm:
        sys.exit("the bucket did not compile; see the log above")
    return engine, time.perf_counter() - started


def grid(engine: Engine, arguments: argparse.Namespace) -> GenerationRequest:
    """Return the timed request: the warm bucket's grid, at the model's native size."""
    request = engine.parse(f"a lighthouse at dusk --seed 5 --steps {arguments.steps}")
    return replace(request, num_images=arguments.images)


def timed(engine: Engine, request: GenerationRequest, *, eager: bool) -> tuple[float, np.ndarray]:
    """Draw once (eager forced, or compiled) and return the seconds and the first image."""
    stance = "force_eager" if eager else "default"
    with torch.compiler.set_stance(stance):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        images = engine.generate(request).images
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    return time.perf_counter() - started, np.asarray(images[0], dtype=np.int16)


def compare(engine: Engine, arguments: argparse.Namespace) -> None:
    """Alternate eager and compiled draws and print the figures."""
    request = grid(engine, arguments)
    timed(engine, request, eager=True)  # each path's first call sets up its buffers
    timed(engine, request, eager=False)
    seconds: dict[bool, list[float]] = {True: [], False: []}
    first: dict[bool, np.ndarray] = {}
    for _ in range(arguments.rounds):
        for eager in (True, False):
            elapsed, image = timed(engine, request, eager=eager)
            seconds[eager].append(elapsed)
            first[eager] = image
    for eager, label in ((True, "eager"), (False, "compiled")):
        median = statistics.median(seconds[eager])
        print(
            f"{label:>8}: {request.steps / median:.2f} it/s, {median:.3f} s per grid of "
            f"{request.num_images} ({request.width}x{request.height}, {request.steps} steps)"
        )
    ratio = statistics.median(seconds[True]) / statistics.median(seconds[False])
    print(f"compiled / eager speed: {ratio:.2f}x")
    print(f"largest pixel difference: {int(np.abs(first[True] - first[False]).max())} of 255")


def main() -> None:
    """Compile cold, again from the cache in a fresh process, then compare the two paths."""
    parser = timed_model_parser(__doc__)
    for switch, default in (("vae", False), ("fuse-qkv", True), ("channels-last", False)):
        parser.add_argument(f"--{switch}", action=argparse.BooleanOptionalAction, default=default)
    parser.add_argument("--data-dir", type=Path, default=None, help="(the cached run's)")
    arguments = parser.parse_args()
    if arguments.data_dir is not None:  # the second process: compile from the cache only
        print(f"compile from the cache: {warm(arguments, arguments.data_dir)[1]:.1f} s")
        return
    print(
        f"vae {arguments.vae}, fuse_qkv {arguments.fuse_qkv}, "
        f"channels_last {arguments.channels_last}",
        flush=True,
    )
    data_dir = Path(tempfile.mkdtemp(prefix="easel-compile-"))
    engine, cold = warm(arguments, data_dir)
    print(f"compile, cold: {cold:.1f} s", flush=True)
    again = [sys.executable, __file__, *sys.argv[1:], "--data-dir", str(data_dir)]
    subprocess.run(again, check=True)
    compare(engine, arguments)


if __name__ == "__main__":
    main()
