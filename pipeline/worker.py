"""Running claimed batches: one engine per worker thread, and how each job's outcome is recorded.

:class:`Settlement` is the one place a job's state changes are written: to the store first,
then to the owner's handle, so nobody is told anything that a crash could take back.
:class:`EngineWorker` runs one claimed batch on its engine's own thread and settles each job.
When the GPU fails under a batch, the worker rebuilds its engine (if it was given a way to)
and runs the batch's jobs again at once, each until it has started ``max_attempts`` times.
A full disk fails only the job whose images could not be saved or recorded.
After every batch the thread hands the heap's free pages back (:mod:`pipeline.heap`).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pipeline.batch_runner import (
    EngineBroken,
    Failed,
    Interrupted,
    RequestOutcome,
    Succeeded,
    free_memory,
    run_batch,
)
from pipeline.errors import EngineLostError
from pipeline.heap import trim_heap
from pipeline.images import remove_outputs, save_outputs
from pipeline.jobs import JobEvent, JobRecord, JobResult, job_cost
from pipeline.metadata import parameters_text
from pipeline.model_pool import ModelResidency

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from pipeline.batch_runner import BatchEngine
    from pipeline.engine import GenerationResult, Progress
    from pipeline.fair_queue import Waiting
    from pipeline.handles import JobHandle
    from pipeline.jobs import JobStatus, JobStore
    from pipeline.pace import PaceEstimator
    from pipeline.request import GenerationRequest

logger = logging.getLogger(__name__)

DISK_FULL_MESSAGE = "the server's disk is full, so the images could not be saved. Try again later."
GPU_FAILURE_MESSAGE = (
    "the GPU failed {times} while drawing this; the server owner will find the error in the "
    "log. Try again later."
)


def is_disk_full(error: BaseException) -> bool:
    """Tell a full disk (or a spent quota) from other failures to write.

    The OS says ENOSPC or EDQUOT; SQLite, whose errors reach the queue through the store as
    ``sqlite3.OperationalError``, says "database or disk is full" (the queue never imports a
    database, so it reads the words).
    """
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "database or disk is full" in str(error)


def times(count: int) -> str:
    """Say how many times, as people do: once, twice, 3 times."""
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


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
        """Save the images, record the job done, and deliver the result.

        A full disk fails this job alone, with a message saying so: no image is left behind
        (``save_outputs`` removes its own; those saved before the store said it was full are
        removed here), and the store does not say done.
        """
        folder = self._output_dir / job.record.id
        try:
            texts = [parameters_text(result.request, seed=seed) for seed in result.seeds]
            paths = await asyncio.to_thread(save_outputs, folder, result.images, texts)
        except OSError as error:
            if not is_disk_full(error):
                raise
            await self._fail_for_full_disk(job, error)
            return
        try:
            await self._store.mark_done(job.record.id, paths)
        except Exception as error:
            if not is_disk_full(error):
                raise
            await asyncio.to_thread(remove_outputs, paths)
            await self._fail_for_full_disk(job, error)
            return
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

    async def _fail_for_full_disk(self, job: ActiveJob, error: Exception) -> None:
        """Log the full disk for the server owner and fail the job, saying why."""
        logger.error("the disk is full: job %s could not be saved", job.record.id, exc_info=error)
        await self.fail(job, DISK_FULL_MESSAGE)

    async def put_back(self, job: ActiveJob) -> None:
        """Return an interrupted job to pending, to run after the restart."""
        await self._store.mark_pending(job.record.id)
        job.status = "pending"


class EngineWorker:
    """One engine and the single thread it runs on, and how to build it again if the GPU fails."""

    def __init__(
        self,
        index: int,
        engine: BatchEngine,
        settlement: Settlement,
        pace: PaceEstimator,
        *,
        job_timeout: float,
        interrupting: Callable[[], bool],
        max_attempts: int,
        rebuild_engine: Callable[[int], BatchEngine] | None = None,
    ) -> None:
        self._index = index
        self._engine = engine
        self._settlement = settlement
        self._pace = pace
        self._timeout = job_timeout
        self._interrupting = interrupting
        self._max_attempts = max_attempts
        self._rebuild_engine = rebuild_engine
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"easel-engine-{index}"
        )

    def prefers(self, waiting: Waiting) -> bool:
        """Tell whether a waiting job's model is loaded here, so it starts sooner."""
        engine = self._engine
        return isinstance(engine, ModelResidency) and engine.has_loaded(waiting.model)

    def close(self) -> None:
        """Stop the thread once its current call returns."""
        self._executor.shutdown(wait=True)

    async def run(self, jobs: list[ActiveJob]) -> None:
        """Run a claimed batch and settle every job in it, whatever goes wrong."""
        try:
            while jobs:
                jobs = await self._attempt(jobs)
        except Exception:
            logger.exception("internal error running a batch; failing its jobs")
            await self._fail_unsettled(jobs)

    async def _attempt(self, jobs: list[ActiveJob]) -> list[ActiveJob]:
        """Run the batch once and settle each job; return those to run again on a new engine."""
        for job in jobs:
            await self._settlement.start(job)
        deadline = time.monotonic() + self._timeout
        started = time.monotonic()
        outcomes = await self._generate(jobs, deadline)
        self._pace.learn(
            sum(
                job_cost(job.record.request)
                for job, outcome in zip(jobs, outcomes, strict=True)
                if isinstance(outcome, Succeeded)
            ),
            time.monotonic() - started,
        )
        timed_out = time.monotonic() > deadline
        rebuild = self._rebuild_engine
        broken: list[ActiveJob] = []
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, EngineBroken) and rebuild is not None:
                broken.append(job)
            else:
                await self._settle(job, outcome, timed_out=timed_out)
        return await self._recover(broken, rebuild) if broken and rebuild else []

    async def _generate(self, jobs: list[ActiveJob], deadline: float) -> list[RequestOutcome]:
        """Run the batch's requests on the engine's own thread, reporting progress to the loop."""
        loop = asyncio.get_running_loop()

        def on_progress(progress: Progress) -> None:
            loop.call_soon_threadsafe(_report_progress, jobs, progress)

        def should_stop() -> bool:
            return (
                self._interrupting()
                or time.monotonic() > deadline
                or all(job.canceled for job in jobs)
            )

        def draw() -> list[RequestOutcome]:
            requests = [job.record.request for job in jobs]
            try:
                return run_batch(
                    self._engine,
                    requests,
                    progress=on_progress,
                    cancel=should_stop,
                    reference=jobs[0].record.id,
                )
            finally:
                trim_heap()  # else each peak batch leaves the resident size higher

        return await loop.run_in_executor(self._executor, draw)

    async def _settle(self, job: ActiveJob, outcome: RequestOutcome, *, timed_out: bool) -> None:
        """Record how one job of the batch ended."""
        if job.canceled:
            return  # already stored and announced when it was canceled
        if isinstance(outcome, Succeeded):
            await self._settlement.succeed(job, outcome.result)
        elif isinstance(outcome, Failed | EngineBroken):
            await self._settlement.fail(job, outcome.message)
        elif isinstance(outcome, Interrupted) and timed_out and not self._interrupting():
            limit = round(self._timeout)
            await self._settlement.fail(
                job, f"it took longer than this server's limit of {limit} s."
            )
        else:  # interrupted by shutdown: run it again after the restart
            await self._settlement.put_back(job)

    async def _recover(
        self, jobs: list[ActiveJob], rebuild: Callable[[int], BatchEngine]
    ) -> list[ActiveJob]:
        """After a GPU fault: fail the jobs out of attempts, rebuild, return the rest to retry.

        The engine is rebuilt even when every job of the batch was canceled, for the next one.
        """
        live = [job for job in jobs if not job.canceled]
        for job in live:
            if job.attempts >= self._max_attempts:
                logger.error(
                    "job %s failed: the GPU failed %s drawing it",
                    job.record.id,
                    times(job.attempts),
                )
                await self._settlement.fail(
                    job, GPU_FAILURE_MESSAGE.format(times=times(job.attempts))
                )
        await self._rebuild(rebuild)
        retry = [job for job in live if job.status == "running" and not job.canceled]
        if self._interrupting():
            for job in retry:
                await self._settlement.put_back(job)
            return []
        return retry

    async def _rebuild(self, rebuild: Callable[[int], BatchEngine]) -> None:
        """Replace the engine with a fresh one, on the engine's own thread (loading is slow)."""
        logger.warning("rebuilding engine %d after a GPU fault", self._index)
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._replace_engine, rebuild)
        except Exception:
            logger.critical(
                "could not rebuild engine %d; it will try again on its next batch, and its jobs "
                "fail meanwhile. If this goes on, restart the bot.",
                self._index,
                exc_info=True,
            )
            return
        logger.warning("engine %d rebuilt in %.1f s", self._index, time.monotonic() - started)

    def _replace_engine(self, rebuild: Callable[[int], BatchEngine]) -> None:
        """Drop the broken engine and free its memory, so the new one need not fit beside it."""
        self._engine = _LostEngine()
        try:
            free_memory()
        except Exception:  # a poisoned CUDA context may refuse even this
            logger.warning("could not free the broken engine's memory", exc_info=True)
        self._engine = rebuild(self._index)

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


class _LostEngine:
    """Stands in for an engine that could not be rebuilt: every call is a GPU fault."""

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Raise, so that the next batch rebuilds the engine again."""
        raise EngineLostError("the engine could not be rebuilt after a GPU fault")


def _report_progress(jobs: list[ActiveJob], progress: Progress) -> None:
    """Give each job of a batch its share of a progress event (its own previews)."""
    offset = 0
    for job in jobs:
        count = job.record.request.num_images
        previews = progress.previews[offset : offset + count] if progress.previews else ()
        offset += count
        if not job.canceled:
            job.handle.publish(JobEvent("progress", progress=replace(progress, previews=previews)))
