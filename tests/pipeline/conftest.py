"""Fixtures of the scheduler's tests: a database, a watched faulty engine, started schedulers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.store.jobs import SqliteJobStore
from pipeline.config import QueueSettings
from pipeline.jobs import job_cost
from pipeline.scheduler import JobScheduler
from tests.pipeline.scheduler_parts import WatchedEngine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from bot.store.database import Database
    from pipeline.engine import Engine
    from tests.pipeline.faulty_engine import FaultyEngine


@pytest.fixture
def faulty(tiny_engine: Engine) -> WatchedEngine:
    """Wrap the tiny engine with no faults configured."""
    return WatchedEngine(tiny_engine)


@pytest.fixture
async def make_scheduler(
    faulty: FaultyEngine, database: Database, tmp_path: Path, tiny_engine: Engine
) -> AsyncIterator[Callable[..., Awaitable[JobScheduler]]]:
    """Start schedulers on the faulty engine and the database; shut them all down after."""
    started: list[JobScheduler] = []

    async def make(*, start: bool = True, **settings: object) -> JobScheduler:
        values: dict[str, object] = {"gather_ms": 5, "job_timeout": 30, "shutdown_grace": 0.2}
        values.update(settings)
        scheduler = JobScheduler(
            [faulty],
            SqliteJobStore(database),
            QueueSettings.model_validate(values),
            output_dir=tmp_path / "outputs",
            quantum=job_cost(tiny_engine.parse("x")),
        )
        if start:
            await scheduler.start()
        started.append(scheduler)
        return scheduler

    yield make
    faulty.release()
    for scheduler in started:
        await scheduler.shutdown()
