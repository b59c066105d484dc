"""The job queue over two Ray replicas: fair order across owners, both replicas busy, cancel."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from bot.store.jobs import SqliteJobStore
from pipeline.config import QueueSettings
from pipeline.jobs import JobCanceledError, JobRecord, job_cost
from pipeline.scheduler import JobScheduler
from tests.pipeline.cluster.ray_parts import ray_engine

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from bot.config import BotConfig
    from bot.store.database import Database
    from pipeline.cluster.ray_engine import RayEngine
    from pipeline.engine import Engine, GenerationResult, Progress
    from pipeline.request import GenerationRequest

OWNERS = ("A", "B", "C")


@dataclass
class StartLog:
    """Which job each replica started when, across both workers' threads."""

    starts: list[tuple[float, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class LoggedEngine:
    """A worker's Ray engine that notes each batch's prompt and the replica that drew it."""

    engine: RayEngine
    log: StartLog

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Draw on the replicas, then note when the batch was sent and where it was drawn."""
        sent = time.monotonic()
        try:
            return self.engine.generate_batch(requests, progress=progress, cancel=cancel)
        finally:
            with self.log.lock:
                self.log.starts.append((sent, requests[0].prompt, self.engine.last_replica))


def queue_over(
    engines: Sequence[Any], database: Database, tmp_path: Path, tiny: Engine
) -> JobScheduler:
    """Return a scheduler with one worker per engine (not started), batches of one grid."""
    settings = {"gather_ms": 5, "job_timeout": 120, "shutdown_grace": 1, "max_batch_images": 4}
    return JobScheduler(
        list(engines),
        SqliteJobStore(database),
        QueueSettings.model_validate(settings),
        output_dir=tmp_path / "outputs",
        quantum=job_cost(tiny.parse("x")),
    )


async def test_owners_jobs_spread_over_both_replicas_in_fair_order(
    served: dict[str, Any],
    ray_config: BotConfig,
    tiny_engine: Engine,
    database: Database,
    tmp_path: Path,
) -> None:
    """Run A's three jobs, then B's, then C's, accepted in that order, as A B C A B C A B C."""
    log = StartLog()
    engines = [LoggedEngine(ray_engine(served, ray_config), log) for _ in range(2)]
    store = SqliteJobStore(database)
    for index, owner in enumerate(o for o in OWNERS for _ in range(3)):
        request = tiny_engine.parse(f"{owner} {index} --steps 8 --seed {index}")
        await store.add(
            JobRecord(id=f"job-{index}", owner=owner, request=request, created_at=index)
        )
    scheduler = queue_over(engines, database, tmp_path, tiny_engine)
    handles = await scheduler.start()
    try:
        results = [await handle.result() for handle in handles]
    finally:
        await scheduler.shutdown()
    assert all(len(result.images) == 4 for result in results)
    order = [prompt.split()[0] for _, prompt, _ in sorted(log.starts)]
    assert len(order) == 9
    assert [sorted(order[turn : turn + 3]) for turn in (0, 3, 6)] == [list(OWNERS)] * 3
    replicas = {replica for _, _, replica in log.starts}
    assert len(replicas) == 2
    assert None not in replicas


async def test_a_job_running_on_a_replica_is_canceled_and_the_next_one_runs(
    served: dict[str, Any],
    ray_config: BotConfig,
    tiny_engine: Engine,
    database: Database,
    tmp_path: Path,
) -> None:
    """Cancel a job mid-draw on its replica: canceled at once, and the replica draws again."""
    scheduler = queue_over([ray_engine(served, ray_config)], database, tmp_path, tiny_engine)
    await scheduler.start()
    try:
        running = await scheduler.submit(tiny_engine.parse("a long one --steps 60"), "A")
        async for event in running.events():
            if event.kind == "progress":
                break
        started = time.monotonic()
        assert await scheduler.cancel(running.id)
        next_one = await scheduler.submit(tiny_engine.parse("the next one --steps 4"), "B")
        assert (await next_one.result()).images
        assert time.monotonic() - started < 30
    finally:
        await scheduler.shutdown()
    with pytest.raises(JobCanceledError):
        await running.result()
