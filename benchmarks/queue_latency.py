"""Measure how the job queue shares the machine: timer lateness and shutdown time under load.

The tests check the behaviour without a clock (progress reaches the owner while the engine's
call is still running; a shutdown stops a running job at its next step; a huge job's turn is
found in bounded work). This script prints the figures those properties are for::

    python benchmarks/queue_latency.py [--config config.yaml] [--steps 60] [--rounds 3]

For each round it prints how late a 10 ms ``asyncio.sleep`` wakes (p50, p99, max) while one
four-image job runs through the real queue and its SQLite store, next to the same number of
timers on an idle loop measured in the same round, and how long ``JobScheduler.shutdown``
takes to return once its grace time is over with a job running.
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

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.store.database import Database
from bot.store.jobs import SqliteJobStore
from pipeline.config import PipelineConfig, QueueSettings
from pipeline.config_file import load_config
from pipeline.engine import Engine
from pipeline.jobs import job_cost
from pipeline.scheduler import JobScheduler

TICK = 0.01
GRACE = 0.2


async def start_scheduler(engine: Engine, folder: Path) -> tuple[JobScheduler, Database]:
    """Start a queue on ``engine`` with a fresh database under ``folder``."""
    database = await Database.open(folder / "bench.db")
    scheduler = JobScheduler(
        [engine],
        SqliteJobStore(database),
        QueueSettings(gather_ms=5, shutdown_grace=GRACE),
        output_dir=folder / "outputs",
        quantum=job_cost(engine.parse("x")),
    )
    await scheduler.start()
    return scheduler, database


async def timer_lateness(engine: Engine, steps: int) -> list[float]:
    """Return how late each 10 ms sleep woke while one long job ran."""
    with tempfile.TemporaryDirectory() as folder:
        scheduler, database = await start_scheduler(engine, Path(folder))
        request = replace(engine.parse(f"a yellow star --steps {steps}"), num_images=4)
        handle = await scheduler.submit(request, "A")
        async for event in handle.events():
            if event.kind == "started":
                break
        lateness: list[float] = []
        while handle.status == "running":
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            lateness.append(time.perf_counter() - before - TICK)
        await handle.result()
        await scheduler.shutdown()
        await database.close()
    return lateness


async def shutdown_seconds(engine: Engine, steps: int) -> float:
    """Return how long a shutdown took past its grace time, with a long job running."""
    with tempfile.TemporaryDirectory() as folder:
        scheduler, database = await start_scheduler(engine, Path(folder))
        handle = await scheduler.submit(engine.parse(f"a yellow star --steps {steps}"), "A")
        async for event in handle.events():
            if event.kind == "progress":
                break
        started = time.perf_counter()
        await scheduler.shutdown()
        elapsed = time.perf_counter() - started - GRACE
        await database.close()
    return elapsed


async def idle_lateness(timers: int) -> list[float]:
    """Return how late each of ``timers`` 10 ms sleeps woke with nothing else running."""
    lateness: list[float] = []
    for _ in range(timers):
        before = time.perf_counter()
        await asyncio.sleep(TICK)
        lateness.append(time.perf_counter() - before - TICK)
    return lateness


def summary(lateness: list[float]) -> str:
    """Describe timer lateness as p50, p99 and max."""
    ordered = sorted(lateness)
    p99 = ordered[round(0.99 * (len(ordered) - 1))]
    return (
        f"p50 {milliseconds(statistics.median(ordered))}, p99 {milliseconds(p99)}, "
        f"max {milliseconds(ordered[-1])}"
    )


def milliseconds(seconds: float) -> str:
    """Format seconds as milliseconds."""
    return f"{seconds * 1000:.1f} ms"


async def main() -> None:
    """Run the rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    engine = Engine.from_config(load_config(arguments.config, PipelineConfig))
    engine.generate(replace(engine.parse("warm-up --steps 2"), num_images=1))
    print(
        f"model: {engine.model.name} on {engine.model.device} ({torch.get_num_threads()} threads)"
    )
    print(f"one job of 4 images, {arguments.steps} steps; timer of {milliseconds(TICK)}")
    for round_index in range(1, arguments.rounds + 1):
        busy = await timer_lateness(engine, arguments.steps)
        idle = await idle_lateness(len(busy))
        shutdown = await shutdown_seconds(engine, arguments.steps)
        print(f"round {round_index}, {len(busy)} timers each:")
        print(f"  timer lateness, engine drawing: {summary(busy)}")
        print(f"  timer lateness, loop idle:      {summary(idle)}")
        print(f"  shutdown, past its grace time:  {milliseconds(shutdown)}")


if __name__ == "__main__":
    asyncio.run(main())
