"""One timed round through the real job queue, shared by the benchmarks that compare engines.

Every job of a round is a copy of one request with its own seed and owner, submitted at once
to a :class:`JobScheduler` over a fresh SQLite store, so batching and fairness run as in the
bot.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.store.database import Database
from bot.store.jobs import SqliteJobStore
from pipeline.jobs import job_cost
from pipeline.scheduler import JobScheduler

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipeline.batch_runner import BatchEngine
    from pipeline.config import QueueSettings
    from pipeline.request import GenerationRequest


@dataclass(frozen=True)
class Round:
    """How long one round took, and the first job's images to compare across modes."""

    seconds: float
    first_job: list[np.ndarray]


async def run_round(
    engines: Sequence[BatchEngine], base: GenerationRequest, jobs: int, queue: QueueSettings
) -> Round:
    """Submit ``jobs`` copies of ``base`` (own seeds and owners) at once and time them."""
    with tempfile.TemporaryDirectory() as folder:
        database = await Database.open(Path(folder) / "bench.db")
        scheduler = JobScheduler(
            list(engines),
            SqliteJobStore(database),
            queue.model_copy(update={"max_jobs_per_user": jobs, "max_pending": jobs}),
            output_dir=Path(folder) / "outputs",
            quantum=job_cost(base),
        )
        await scheduler.start()
        started = time.perf_counter()
        handles = [
            await scheduler.submit(replace(base, seed=index * 10), f"user{index}")
            for index in range(jobs)
        ]
        results = await asyncio.gather(*(handle.result() for handle in handles))
        elapsed = time.perf_counter() - started
        await scheduler.shutdown()
        await database.close()
    return Round(elapsed, [np.asarray(image, dtype=np.int16) for image in results[0].images])
