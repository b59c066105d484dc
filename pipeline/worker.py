"""Running claimed batches: one engine per worker thread, and how each job's outcome is recorded.

:class:`Settlement` is the one place a job's state changes are written: to the store first,
then to the owner's handle, so nobody is told anything that a crash could take back.
:class:`EngineWorker` runs one claimed batch on its engine's own thread and settles each job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pipeline.batch_runner import Failed, Interrupted, RequestOutcome, Succeeded, run_batch
from pipeline.images import save_outputs
from pipeline.jobs import JobEvent, JobRecord, JobResult, job_cost

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from pipeline.batch_runner import BatchEngine
    from pipeline.engine import GenerationResult, Progress
    from pipeline.handles import JobHandle
    from pipeline.jobs import JobStatus, JobStore
    from pipeline.pace import PaceEstimator

logger = logging.getLogger(__name__)


@dataclass
class ActiveJob:
    """A job the queue is responsible for: its record, its handle and its live state."""

    record: JobRecord
    handle: JobHandle
    attempts: int
    status: JobStatus = "pending"
    canceled: bool = False


class Settlement:
    """Write each state change through the store, then tell the job's owner."""

    def __init__(
        self, store: JobStore, output_dir: Path, forget: Callable[[ActiveJob], None]
    ) -> None:
        self._store = store
        self._output_dir = output_dir
        self._forget = forget

    async def start(self, job: ActiveJob) -> None:
        """Record another attempt at the job and announce that it started."""
        job.attempts += 1
        job.status = "running"
        await self._store.mark_running(job.record.id, job.attempts)
        job.handle.publish(JobEvent("started"))

    async def succeed(self, job: ActiveJob, result: GenerationResult) -> None:
        """Save the images, record the job done, and deliver the result."""
        folder = self._output_dir / job.record.id
        paths = await asyncio.to_thread(save_outputs, folder, result.images)
        await self._store.mark_done(job.record.id, paths)
        job.status = "done"
        self._forget(job)
        done = replace(job.record, status="done", attempts=job.attempts, outputs=paths)
        job.handle.succeed(JobResult(done, result.images, paths, result.duration, result.flagged))

    async def fail(self, job: ActiveJob, message: str) -> None:
        """Record a failure and tell the owner why."""
        await self._store.mark_failed(job.record.id, message)
        job.status = "failed"
        self._forget(job)
        job.handle.fail(message)

    async def put_back(self, job: ActiveJob) -> None:
        """Return an interrupted job to pending, to run after the restart."""
        await self._store.mark_pending(job.record.id)
        job.status = "pending"


class EngineWorker:
    """One engine and the single thread it runs on."""

    def __init__(
        self,
        index: int,
        engine: BatchEngine,
        settlement: Settlement,
        pace: PaceEstimator,
        *,
        job_timeout: float,
        interrupting: Callable[[], bool],
    ) -> None:
        self._engine = engine
        self._settlement = settlement
        self._pace = pace
        self._timeout = job_timeout
        self._interrupting = interrupting
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"easel-engine-{index}"
        )

    def close(self) -> None:
        """Stop the thread once its current call returns."""
        self._executor.shutdown(wait=True)

    async def run(self, jobs: list[ActiveJob]) -> None:
        """Run a claimed batch and settle every job in it, whatever goes wrong."""
        try:
            await self._run(jobs)
        except Exception:
            logger.exception("internal error running a batch; failing its jobs")
            await self._fail_unsettled(jobs)

    async def _run(self, jobs: list[ActiveJob]) -> None:
        """Mark the batch running, run it on the engine's thread, and settle each job."""
        for job in jobs:
            await self._settlement.start(job)
        deadline = time.monotonic() + self._timeout
        loop = asyncio.get_running_loop()

        def on_progress(progress: Progress) -> None:
            loop.call_soon_threadsafe(_report_progress, jobs, progress)

        def should_stop() -> bool:
            return (
                self._interrupting()
                or time.monotonic() > deadline
                or all(job.canceled for job in jobs)
            )

        started = time.monotonic()
        outcomes = await loop.run_in_executor(
            self._executor,
            lambda: run_batch(
                self._engine,
                [job.record.request for job in jobs],
                progress=on_progress,
                cancel=should_stop,
                reference=jobs[0].record.id,
            ),
        )
        self._pace.learn(
            sum(
                job_cost(job.record.request)
                for job, outcome in zip(jobs, outcomes, strict=True)
                if isinstance(outcome, Succeeded)
            ),
            time.monotonic() - started,
        )
        timed_out = time.monotonic() > deadline
        for job, outcome in zip(jobs, outcomes, strict=True):
            await self._settle(job, outcome, timed_out=timed_out)

    async def _settle(self, job: ActiveJob, outcome: RequestOutcome, *, timed_out: bool) -> None:
        """Record how one job of the batch ended."""
        if job.canceled:
            return  # already stored and announced when it was canceled
        if isinstance(outcome, Succeeded):
            await self._settlement.succeed(job, outcome.result)
        elif isinstance(outcome, Failed):
            await self._settlement.fail(job, outcome.message)
        elif isinstance(outcome, Interrupted) and timed_out and not self._interrupting():
            limit = round(self._timeout)
            await self._settlement.fail(
                job, f"it took longer than this server's limit of {limit} s."
            )
        else:  # interrupted by shutdown: run it again after the restart
            await self._settlement.put_back(job)

    async def _fail_unsettled(self, jobs: list[ActiveJob]) -> None:
        """Fail, as best we can, the jobs of a batch that broke in our own code."""
        for job in jobs:
            if job.status in ("pending", "running") and not job.canceled:
                try:
                    await self._settlement.fail(
                        job, f"an internal error stopped it (reference {job.record.id})."
                    )
                except Exception:
                    logger.exception("could not record the failure of job %s", job.record.id)


def _report_progress(jobs: list[ActiveJob], progress: Progress) -> None:
    """Give each job of a batch its share of a progress event (its own previews)."""
    offset = 0
    for job in jobs:
        count = job.record.request.num_images
        previews = progress.previews[offset : offset + count] if progress.previews else ()
        offset += count
        if not job.canceled:
            job.handle.publish(JobEvent("progress", progress=replace(progress, previews=previews)))
