"""Measure what batching buys: 8 concurrent same-shape jobs, batched versus one per call.

Every mode runs through the real job queue (with its SQLite store), on the same loaded model,
alternating round by round so both see the same machine::

    python benchmarks/batching.py [--config config.yaml] [--jobs 8] [--rounds 3] [--steps N]

It prints images per second one job per call, batched up to the config's
``queue.max_batch_images``, and batched with every job in one call, and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.store.database import Database
from bot.store.jobs import SqliteJobStore
from pipeline.config import PipelineConfig, QueueSettings, load_config
from pipeline.engine import Engine
from pipeline.jobs import job_cost
from pipeline.queue import JobScheduler


async def run_round(engine: Engine, jobs: int, steps: int | None, max_images: int) -> float:
    """Submit ``jobs`` jobs at once and return the seconds until all are done."""
    with tempfile.TemporaryDirectory() as folder:
        database = await Database.open(Path(folder) / "bench.db")
        settings = QueueSettings(
            max_batch_images=max_images, gather_ms=20, max_jobs_per_user=jobs, max_pending=jobs
        )
        scheduler = JobScheduler(
            [engine],
            SqliteJobStore(database),
            settings,
            output_dir=Path(folder) / "outputs",
            quantum=job_cost(engine.parse("x")),
        )
        await scheduler.start()
        base = engine.parse("a yellow star on a purple background")
        if steps is not None:
            base = replace(base, steps=steps)
        started = time.perf_counter()
        handles = [
            await scheduler.submit(replace(base, seed=index * 10), f"user{index}")
            for index in range(jobs)
        ]
        await asyncio.gather(*(handle.result() for handle in handles))
        elapsed = time.perf_counter() - started
        await scheduler.shutdown()
        await database.close()
    return elapsed


async def main() -> None:
    """Alternate batched and sequential rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None)
    arguments = parser.parse_args()
    config = load_config(arguments.config, PipelineConfig)
    engine = Engine.from_config(config)
    images = arguments.jobs * 4
    configured = config.queue.max_batch_images
    await run_round(engine, 2, 2, 8)  # warm-up
    limits = {"sequential": 4, "configured": configured, "batched": images}
    times: dict[str, list[float]] = {mode: [] for mode in limits}
    for _ in range(arguments.rounds):
        for mode, limit in limits.items():
            times[mode].append(await run_round(engine, arguments.jobs, arguments.steps, limit))
    rates = {mode: images / statistics.median(seconds) for mode, seconds in times.items()}
    request = engine.parse("x")
    print(f"model: {config.model.path} on {engine.model.device} ({engine.model.dtype})")
    print(
        f"{arguments.jobs} concurrent jobs x 4 images, {request.width}x{request.height}, "
        f"{arguments.steps or request.steps} steps, median of {arguments.rounds} rounds"
    )
    print(f"sequential (one job per call):  {rates['sequential']:.3f} images/s")
    print(
        f"batched, config's max_batch_images {configured}: {rates['configured']:.3f} images/s "
        f"({rates['configured'] / rates['sequential']:.2f}x)"
    )
    print(f"batched (up to {images} images a call): {rates['batched']:.3f} images/s")
    print(f"batched / sequential: {rates['batched'] / rates['sequential']:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
