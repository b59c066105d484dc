"""Fixtures of the queue's tests: a watched faulty engine, started schedulers, built workers.

The worker's tests run on an in-memory store that logs every write; the scheduler's on the
real SQLite store (the ``database`` fixture comes from ``tests/database_fixtures.py``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from bot.store.jobs import SqliteJobStore
from pipeline.config import QueueSettings
from pipeline.jobs import job_cost
from pipeline.pace import PaceEstimator
from pipeline.scheduler import JobScheduler
from pipeline.worker import EngineWorker, Settlement
from tests.pipeline.faulty_engine import Reloader
from tests.pipeline.scheduler_parts import WatchedEngine
from tests.pipeline.worker_doubles import Board, MemoryJobStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
    from pathlib import Path

    from bot.store.database import Database
    from pipeline.batch_runner import BatchEngine
    from pipeline.config import PipelineConfig
    from pipeline.engine import Engine
    from tests.pipeline.faulty_engine import FaultyEngine


@pytest.fixture
def faulty(tiny_engine: Engine) -> Iterator[WatchedEngine]:
    """Wrap the tiny engine with no faults configured; never leave its thread held."""
    engine = WatchedEngine(tiny_engine)
    yield engine
    engine.release()


@pytest.fixture
def reloader(faulty: FaultyEngine, tiny_config: PipelineConfig) -> Reloader:
    """Return a rebuild function that reloads the tiny model into the faulty wrapper."""
    return Reloader(faulty, tiny_config)


@pytest.fixture
async def make_scheduler(
    faulty: FaultyEngine, database: Database, tmp_path: Path, tiny_engine: Engine
) -> AsyncIterator[Callable[..., Awaitable[JobScheduler]]]:
    """Start schedulers on the faulty engine and the database; shut them all down after."""
    started: list[JobScheduler] = []

    async def make(
        *,
        start: bool = True,
        rebuild_engine: Callable[[int], BatchEngine] | None = None,
        **settings: object,
    ) -> JobScheduler:
        values: dict[str, object] = {"gather_ms": 5, "job_timeout": 30, "shutdown_grace": 0.2}
        values.update(settings)
        scheduler = JobScheduler(
            [faulty],
            SqliteJobStore(database),
            QueueSettings.model_validate(values),
            output_dir=tmp_path / "outputs",
            quantum=job_cost(tiny_engine.parse("x")),
            rebuild_engine=rebuild_engine,
        )
        if start:
            await scheduler.start()
        started.append(scheduler)
        return scheduler

    yield make
    faulty.release()
    for scheduler in started:
        await scheduler.shutdown()


# The worker's parts ------------------------------------------------------------------------


@pytest.fixture
def store() -> MemoryJobStore:
    """Return an empty in-memory store."""
    return MemoryJobStore()


@pytest.fixture
def board(store: MemoryJobStore) -> Board:
    """Return a board over the store."""
    return Board(store)


@pytest.fixture
def forgotten() -> list[str]:
    """Return the list of job ids the settlement stops tracking."""
    return []


@pytest.fixture
def settlement(store: MemoryJobStore, tmp_path: Path, forgotten: list[str]) -> Settlement:
    """Return a settlement writing to the store and saving under tmp_path."""
    return Settlement(store, tmp_path / "outputs", lambda job: forgotten.append(job.record.id))


@pytest.fixture
def pace() -> PaceEstimator:
    """Return a pace estimator that has measured nothing."""
    return PaceEstimator()


@pytest.fixture
def interrupting() -> threading.Event:
    """Return the flag the test sets to say the queue is shutting down."""
    return threading.Event()


@pytest.fixture
def make_worker(
    faulty: FaultyEngine, settlement: Settlement, pace: PaceEstimator, interrupting: threading.Event
) -> Iterator[Callable[..., EngineWorker]]:
    """Build workers on the faulty engine; close their threads after the test."""
    workers: list[EngineWorker] = []

    def make(
        job_timeout: float = 30,
        max_attempts: int = 2,
        rebuild_engine: Callable[[int], BatchEngine] | None = None,
    ) -> EngineWorker:
        worker = EngineWorker(
            0,
            faulty,
            settlement,
            pace,
            job_timeout=job_timeout,
            interrupting=interrupting.is_set,
            max_attempts=max_attempts,
            rebuild_engine=rebuild_engine,
        )
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()
