"""The scheduler's life: recovery after a restart, shutdown, a responsive loop, internal errors."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pytest

from bot.store.jobs import SqliteJobStore
from pipeline.config import QueueSettings
from pipeline.jobs import (
    JobFailedError,
    JobRecord,
    QueueClosedError,
    job_cost,
)
from pipeline.scheduler import JobScheduler
from tests.pipeline.scheduler_parts import WatchedEngine, held_running_job

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from pathlib import Path

    from bot.store.database import Database
    from pipeline.engine import Engine, GenerationResult, Progress
    from pipeline.request import GenerationRequest
    from tests.pipeline.faulty_engine import FaultyEngine


async def test_restart_requeues_pending_and_retries_or_fails_interrupted_jobs(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    tiny_engine: Engine,
    database: Database,
) -> None:
    """Requeue pending jobs in order, retry a job cut off once, fail one cut off twice."""
    store = SqliteJobStore(database)
    request = tiny_engine.parse("left behind --seed 1")
    for job_id in ("p1", "r1", "r2", "p2"):
        await store.add(JobRecord(id=job_id, owner="A", request=request))
    await store.mark_running("r1", attempts=1)
    await store.mark_running("r2", attempts=2)
    scheduler = await make_scheduler(start=False)
    recovered = {handle.id: handle for handle in await scheduler.start()}
    assert list(recovered) == ["p1", "r1", "r2", "p2"]
    with pytest.raises(JobFailedError, match="restarted while drawing it, 2 times"):
        await recovered["r2"].result()
    for job_id in ("p1", "r1", "p2"):
        assert len((await recovered[job_id].result()).images) == 4
    retried = await store.get("r1")
    assert retried is not None
    assert retried.attempts == 2


async def test_shutdown_leaves_waiting_jobs_pending_and_puts_the_running_one_back(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: WatchedEngine,
    tiny_engine: Engine,
    database: Database,
) -> None:
    """Interrupt the running job at its next step after the grace time; keep every job."""
    scheduler = await make_scheduler()
    running = await held_running_job(scheduler, faulty, tiny_engine)
    waiting = await scheduler.submit(tiny_engine.parse("later"), "B")
    shutting_down = asyncio.create_task(scheduler.shutdown())
    await faulty.asked_to_stop()  # the grace time is over
    faulty.release()
    async with asyncio.timeout(20):
        await shutting_down
    assert faulty.last_steps == [1]  # stopped at the next step end, not after all 8
    store = SqliteJobStore(database)
    assert [job.id for job in await store.unfinished()] == [running.id, waiting.id]
    assert {job.status for job in await store.unfinished()} == {"pending"}
    with pytest.raises(QueueClosedError):
        await scheduler.submit(tiny_engine.parse("too late"), "C")


@dataclass
class LockstepEngine:
    """The real engine, made to wait after each step until the job's owner has heard of it.

    The owner hears through the event loop, so every step proves that the loop ran while
    the call was still going; ``unheard`` lists the steps it waited for in vain.
    """

    engine: Engine
    heard: dict[int, threading.Event] = field(default_factory=dict)
    unheard: list[int] = field(default_factory=list)

    def step_heard(self, step: int) -> threading.Event:
        """Return the flag the owner raises once it has heard of ``step``."""
        return self.heard.setdefault(step, threading.Event())

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Run the real engine, pausing after each step until the owner heard of it."""

        def in_lockstep(event: Progress) -> None:
            if progress is not None:
                progress(event)
            if not self.unheard and not self.step_heard(event.step).wait(timeout=10):
                self.unheard.append(event.step)

        return self.engine.generate_batch(requests, progress=in_lockstep, cancel=cancel)


async def test_the_event_loop_stays_responsive_while_the_engine_works(
    database: Database, tmp_path: Path, tiny_engine: Engine
) -> None:
    """Deliver each step's progress to the owner while the engine's call is still running."""
    engine = LockstepEngine(tiny_engine)
    scheduler = JobScheduler(
        [engine],
        SqliteJobStore(database),
        QueueSettings(gather_ms=5),
        output_dir=tmp_path / "outputs",
        quantum=job_cost(tiny_engine.parse("x")),
    )
    await scheduler.start()
    try:
        request = replace(tiny_engine.parse("long --steps 6"), num_images=1)
        handle = await scheduler.submit(request, "A")
        async with asyncio.timeout(60):
            async for event in handle.events():
                if event.progress is not None:
                    engine.step_heard(event.progress.step).set()
        assert handle.status == "done"
        assert engine.unheard == []
        assert sorted(engine.heard) == [1, 2, 3, 4, 5, 6]
    finally:
        await scheduler.shutdown()


class FlakyStore(SqliteJobStore):
    """The real store, except that the first ``mark_running`` raises (a disk hiccup)."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.failures_left = 1

    async def mark_running(self, job_id: str, attempts: int) -> None:
        """Fail once, then behave."""
        if self.failures_left:
            self.failures_left -= 1
            raise OSError("disk I/O error (injected)")
        await super().mark_running(job_id, attempts)


async def test_an_internal_error_fails_that_batch_and_the_worker_goes_on(
    faulty: FaultyEngine, database: Database, tmp_path: Path, tiny_engine: Engine
) -> None:
    """Fail the batch that hit an internal error, with a reference, then run the next job."""
    scheduler = JobScheduler(
        [faulty],
        FlakyStore(database),
        QueueSettings(gather_ms=5),
        output_dir=tmp_path / "outputs",
        quantum=job_cost(tiny_engine.parse("x")),
    )
    await scheduler.start()
    try:
        first = await scheduler.submit(tiny_engine.parse("unlucky"), "A")
        with pytest.raises(JobFailedError, match="internal error"):
            await first.result()
        second = await scheduler.submit(tiny_engine.parse("lucky"), "A")
        assert len((await second.result()).images) == 4
    finally:
        await scheduler.shutdown()
