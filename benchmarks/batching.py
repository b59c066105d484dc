"""Measure what batching buys: 8 concurrent same-shape jobs, batched versus one per call.

Every mode runs through the real job queue (with its SQLite store), on the same loaded model,
alternating round by round so both see the same machine::

    python benchmarks/batching.py [--config config.yaml] [--jobs 8] [--rounds 3] [--steps N]

It prints images per second one job per call, batched up to the config's
``queue.max_batch_images``, and batched with every job in one call, and the ratios.

On a GPU, ``--arch sd15 --size 512`` runs the same comparison on a randomly initialised
full-size Stable Diffusion 1.5 (see ``sd15.py``; it replaces the default model's ``path``)::

    python benchmarks/batching.py --arch sd15 --size 512 [--sd15-dir DIR]

``--images-per-job 1`` times single-image jobs (upscales) instead of 4-image grids, and
``--cpu-threads N`` overrides ``model.cpu_threads``. On a CPU the gain grows with the threads
torch may use, since a large batch is what lets them all work: see the README's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.queue_rounds import run_round
from benchmarks.sd15 import prepare_random_sd15
from pipeline.config import PipelineConfig, QueueSettings
from pipeline.config_file import load_config
from pipeline.engine import Engine


async def main() -> None:
    """Alternate batched and sequential rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--images-per-job", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--arch", choices=["configured", "sd15"], default="configured")
    parser.add_argument("--size", type=int, default=512, help="sd15 mode: image side in pixels")
    parser.add_argument(
        "--sd15-dir", type=Path, default=None, help="sd15 mode: keep the random model here"
    )
    parser.add_argument(
        "--cpu-threads", type=int, default=None, help="override model.cpu_threads (CPU only)"
    )
    arguments = parser.parse_args()
    config = load_config(arguments.config, PipelineConfig)
    with tempfile.TemporaryDirectory() as folder:
        changes: dict[str, object] = {}
        if arguments.cpu_threads is not None:
            changes["cpu_threads"] = arguments.cpu_threads
        if arguments.arch == "sd15":
            model_dir = prepare_random_sd15(arguments.sd15_dir or Path(folder))
            changes.update(path=str(model_dir.resolve()), config=None)
        entry = config.default_model.model_copy(update=changes)
        engine = Engine.from_config(config, entry)
        await compare(engine, config.queue.max_batch_images, arguments)


def batches_of(images: int) -> QueueSettings:
    """Return the queue's settings for batches of at most ``images`` images."""
    return QueueSettings(max_batch_images=images, gather_ms=20)


async def compare(engine: Engine, configured: int, arguments: argparse.Namespace) -> None:
    """Time one job per call, the config's batch limit and one call for all; print them."""
    base = replace(
        engine.parse("a yellow star on a purple background"),
        num_images=arguments.images_per_job,
    )
    if arguments.steps is not None:
        base = replace(base, steps=arguments.steps)
    if arguments.arch == "sd15":
        base = replace(base, width=arguments.size, height=arguments.size)
    images = arguments.jobs * arguments.images_per_job
    await run_round([engine], replace(base, steps=2), 2, batches_of(images))  # warm-up
    limits = {"sequential": arguments.images_per_job, "configured": configured, "batched": images}
    times: dict[str, list[float]] = {mode: [] for mode in limits}
    first_job: dict[str, list[np.ndarray]] = {}
    for _ in range(arguments.rounds):
        for mode, limit in limits.items():
            result = await run_round([engine], base, arguments.jobs, batches_of(limit))
            times[mode].append(result.seconds)
            first_job[mode] = result.first_job
    rates = {mode: images / statistics.median(seconds) for mode, seconds in times.items()}
    place = f"{engine.model.device} ({engine.model.dtype}, {torch.get_num_threads()} CPU threads)"
    print(f"model: {engine.model.name} on {place}")
    print(
        f"{arguments.jobs} concurrent jobs x {arguments.images_per_job} images, "
        f"{base.width}x{base.height}, {base.steps} steps, median of {arguments.rounds} rounds"
    )
    print(f"sequential (one job per call):  {rates['sequential']:.3f} images/s")
    print(
        f"batched, config's max_batch_images {configured}: {rates['configured']:.3f} images/s "
        f"({rates['configured'] / rates['sequential']:.2f}x)"
    )
    print(f"batched (up to {images} images a call): {rates['batched']:.3f} images/s")
    print(f"batched / sequential: {rates['batched'] / rates['sequential']:.2f}x")
    difference = max(
        int(np.abs(alone - batched).max())
        for alone, batched in zip(first_job["sequential"], first_job["batched"], strict=True)
    )
    print(f"largest pixel difference, a job batched vs alone: {difference} of 255 levels")


if __name__ == "__main__":
    asyncio.run(main())
