"""In-memory collaborators and small helpers for the worker's tests.

A store that logs every write, the scheduler's side of the jobs, a handle that notes the
stored state as each event arrives, and short waits on handles and tasks.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PIL import Image

from pipeline.engine import GenerationResult
from pipeline.handles import JobHandle
from pipeline.jobs import JobRecord
from pipeline.worker import ActiveJob

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine, Progress
    from pipeline.jobs import EventKind, JobEvent, JobResult, JobStatus
    from pipeline.request import GenerationRequest
    from tests.pipeline.faulty_engine import FaultyEngine


class MemoryJobStore:
    """A JobStore in a dict that logs every write and can fail a method's next call.

    ``failing`` methods raise an I/O error once; ``disk_full`` ones raise what SQLite raises
    when the disk is full, until they are taken out of the set.
    """

    def __init__(self) -> None:
        self.records: dict[str, JobRecord] = {}
        self.writes: list[tuple[str, str]] = []
        self.failing: set[str] = set()
        self.disk_full: set[str] = set()

    def status(self, job_id: str) -> JobStatus:
        """Return the stored state of a job."""
        return self.records[job_id].status

    def _write(self, method: str, job_id: str, **changes: Any) -> None:
        """Apply a change, unless this method was told to fail."""
        if method in self.failing:
            self.failing.discard(method)
            raise OSError(f"disk I/O error in {method} (injected)")
        if method in self.disk_full:
            raise sqlite3.OperationalError("database or disk is full")
        self.records[job_id] = replace(self.records[job_id], **changes)
        self.writes.append((method, job_id))

    async def add(self, job: JobRecord) -> None:
        """Store a new pending job."""
        self.records[job.id] = job

    async def mark_running(self, job_id: str, attempts: int) -> None:
        """Record another attempt."""
        self._write("mark_running", job_id, status="running", attempts=attempts)

    async def mark_pending(self, job_id: str) -> None:
        """Put a job back to pending."""
        self._write("mark_pending", job_id, status="pending")

    async def mark_done(self, job_id: str, outputs: tuple[Path, ...]) -> None:
        """Record a finished job and its files."""
        self._write("mark_done", job_id, status="done", outputs=outputs)

    async def mark_failed(self, job_id: str, reason: str) -> None:
        """Record a failed job and why."""
        self._write("mark_failed", job_id, status="failed", error=reason)

    async def mark_canceled(self, job_id: str, reason: str) -> None:
        """Record a canceled job and why."""
        self._write("mark_canceled", job_id, status="canceled", error=reason)

    async def unfinished(self) -> list[JobRecord]:
        """Return pending and running jobs in the order they were added."""
        return [r for r in self.records.values() if r.status in ("pending", "running")]


class Board:
    """The scheduler's side of the jobs under test: states, and cancel as the scheduler does it."""

    def __init__(self, store: MemoryJobStore) -> None:
        self.store = store
        self.jobs: dict[str, ActiveJob] = {}

    def position_of(self, job_id: str) -> int | None:
        """Return None: nothing here waits in line."""
        return None

    def status_of(self, job_id: str) -> JobStatus | None:
        """Return the live state of a tracked job."""
        job = self.jobs.get(job_id)
        return job.status if job else None

    async def cancel(self, job_id: str, reason: str) -> bool:
        """Flag the job canceled, store that, then tell its owner."""
        job = self.jobs[job_id]
        job.canceled = True
        await self.store.mark_canceled(job_id, reason)
        job.handle.mark_canceled(reason)
        return True


class WitnessedHandle(JobHandle):
    """A real handle that notes the stored state of its job as each event arrives."""

    def __init__(self, record: JobRecord, board: Board) -> None:
        super().__init__(record, board)
        self._store = board.store
        self.witnessed: list[tuple[EventKind, JobStatus]] = []

    def publish(self, event: JobEvent) -> None:
        """Note what the store holds at the moment the owner hears of the event."""
        self.witnessed.append((event.kind, self._store.status(self.id)))
        super().publish(event)


def small(engine: Engine, prompt: str, *, steps: int = 2, images: int = 1) -> GenerationRequest:
    """Return a quick request: few steps, few images."""
    return replace(engine.parse(f"{prompt} --seed 1 --steps {steps}"), num_images=images)


async def track(board: Board, request: GenerationRequest, job_id: str) -> ActiveJob:
    """Store a pending job and track it with a witnessed handle."""
    record = JobRecord(id=job_id, owner="A", request=request)
    await board.store.add(record)
    job = ActiveJob(record, WitnessedHandle(record, board), attempts=0)
    board.jobs[job_id] = job
    return job


def result_with_colours(request: GenerationRequest, *colours: str) -> GenerationResult:
    """Return a result whose images are flat colours, one per image."""
    images = [Image.new("RGB", (request.width, request.height), colour) for colour in colours]
    return GenerationResult(request, images, 0.25)


async def result_of(handle: JobHandle) -> JobResult:
    """Return the handle's result, failing if it never comes."""
    async with asyncio.timeout(5):
        return await handle.result()


async def finish(running: asyncio.Task[None]) -> None:
    """Wait for a worker's run to return, failing if it never does."""
    async with asyncio.timeout(20):
        await running


async def event_kinds(handle: JobHandle) -> list[EventKind]:
    """Return the kinds of every event of a finished job."""
    async with asyncio.timeout(5):
        return [event.kind async for event in handle.events()]


async def progress_events(handle: JobHandle) -> list[Progress]:
    """Return the progress a finished job was given."""
    async with asyncio.timeout(5):
        return [e.progress async for e in handle.events() if e.progress is not None]


def witnessed(job: ActiveJob) -> list[tuple[EventKind, JobStatus]]:
    """Return the stored state the owner's handle saw with each event."""
    assert isinstance(job.handle, WitnessedHandle)
    return job.handle.witnessed


async def hold_inside(faulty: FaultyEngine) -> None:
    """Return once the engine is paused after the first step of its call."""
    await asyncio.to_thread(faulty.holding.wait, 20)
    assert faulty.holding.is_set()
