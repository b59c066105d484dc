"""The job scheduler: fair, batched, cancellable, and persisted before anything is promised.

Submissions wait in a :class:`FairQueue`; one worker per engine (one engine per device)
claims the next fair batch and runs it on that engine's own thread, so the event loop never
waits on the GPU. Every state change goes through the :class:`JobStore` before the owner
hears of it. At start-up, jobs left pending are queued again in their original order, and jobs
left running by a crash are retried until ``max_attempts``, then failed with a message. A job
whose batch the GPU failed under is retried on a rebuilt engine within the same count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.engine import batch_key
from pipeline.fair_queue import FairQueue, Waiting
from pipeline.handles import JobHandle
from pipeline.jobs import (
    JobEvent,
    JobRecord,
    QueueClosedError,
    QueueFullError,
    job_cost,
    new_job_id,
)
from pipeline.pace import PaceEstimator
from pipeline.worker import ActiveJob, EngineWorker, Settlement

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from pipeline.batch_runner import BatchEngine
    from pipeline.config import QueueSettings
    from pipeline.jobs import JobStatus, JobStore
    from pipeline.request import GenerationRequest

logger = logging.getLogger(__name__)

RESTART_FAILURE = "the bot restarted while drawing it, {attempts} times; please try again."


@dataclass(frozen=True)
class QueueEntry:
    """One line of a queue listing: who, what, and where it stands."""

    job_id: str
    owner: str
    status: JobStatus
    position: int | None
    request: GenerationRequest
    context: dict[str, Any]


class JobScheduler:
    """Accept jobs, run them fairly on the engines, and persist every step."""

    def __init__(
        self,
        engines: Sequence[BatchEngine],
        store: JobStore,
        settings: QueueSettings,
        *,
        output_dir: Path,
        quantum: float,
        rebuild_engine: Callable[[int], BatchEngine] | None = None,
    ) -> None:
        """Run ``engines``, one worker each; ``rebuild_engine(i)`` loads engine ``i`` afresh.

        The workers call ``rebuild_engine`` on engine ``i``'s own thread after the GPU failed
        under it (a CUDA error other than out-of-memory), then retry the batch's jobs; without
        it those jobs fail with the internal-error message.
        """
        if not engines:
            raise ValueError("the scheduler needs at least one engine")
        self._store = store
        self._settings = settings
        self._fair = FairQueue(quantum)
        self._jobs: dict[str, ActiveJob] = {}
        self._positions: dict[str, int] = {}
        self._work = asyncio.Event()
        self._accepting = False
        self._stopping = False  # no new batches start
        self._interrupting = False  # running batches stop at their next step
        self._submitting: Counter[str] = Counter()
        self._pace = PaceEstimator()
        self._settlement = Settlement(store, output_dir, self._forget)
        self._engine_workers = [
            EngineWorker(
                index,
                engine,
                self._settlement,
                self._pace,
                job_timeout=settings.job_timeout,
                interrupting=lambda: self._interrupting,
                max_attempts=settings.max_attempts,
                rebuild_engine=rebuild_engine,
            )
            for index, engine in enumerate(engines)
        ]
        self._workers: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._batches_running = 0

    # Lifecycle -----------------------------------------------------------------------------

    async def start(self) -> list[JobHandle]:
        """Recover unfinished jobs from the store, start the workers, return recovered handles."""
        recovered: list[JobHandle] = []
        for record in await self._store.unfinished():
            job = self._track(record)
            recovered.append(job.handle)
            if record.status == "running" and record.attempts >= self._settings.max_attempts:
                await self._settlement.fail(job, RESTART_FAILURE.format(attempts=record.attempts))
                continue
            self._enqueue(job)
        self._accepting = True
        for index in range(len(self._engine_workers)):
            self._start_worker(index)
        self._publish_positions()
        return recovered

    async def shutdown(self) -> None:
        """Stop accepting, let running work finish or interrupt it, and stop the workers.

        Jobs still waiting stay pending in the store; interrupted ones are put back to
        pending, so the next start runs them.
        """
        self._accepting = False
        self._stopping = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=self._settings.shutdown_grace)
        except TimeoutError:
            logger.info("interrupting running jobs; they will run again after the restart")
        self._interrupting = True
        self._work.set()
        await asyncio.gather(*self._workers, return_exceptions=True)
        for worker in self._engine_workers:
            worker.close()

    # Submitting and canceling --------------------------------------------------------------

    async def submit(
        self, request: GenerationRequest, owner: str, *, context: dict[str, Any] | None = None
    ) -> JobHandle:
        """Queue a job once it is stored; raise :class:`QueueFullError` over a limit."""
        if not self._accepting:
            raise QueueClosedError("The bot is restarting and accepts no new jobs; try again soon.")
        self._check_limits(owner)
        record = JobRecord(
            id=new_job_id(),
            owner=owner,
            request=request,
            created_at=time.time(),
            context=dict(context or {}),
        )
        self._submitting[owner] += 1  # counts against the cap while the store writes
        try:
            await self._store.add(record)
        finally:
            self._submitting[owner] -= 1
        job = self._track(record)
        self._enqueue(job)
        self._publish_positions()
        return job.handle

    async def cancel(self, job_id: str, reason: str = "canceled by its owner") -> bool:
        """Cancel a waiting job at once, or a running one at its next step."""
        job = self._jobs.get(job_id)
        if job is None or job.status not in ("pending", "running") or job.canceled:
            return False
        job.canceled = True
        if job.status == "pending":
            self._fair.remove(job_id)
        await self._store.mark_canceled(job_id, reason)
        self._forget(job)
        job.handle.mark_canceled(reason)
        self._publish_positions()
        return True

    # Looking -------------------------------------------------------------------------------

    def handle(self, job_id: str) -> JobHandle | None:
        """Return the handle of a job that is waiting or running."""
        job = self._jobs.get(job_id)
        return job.handle if job else None

    def position_of(self, job_id: str) -> int | None:
        """Return a waiting job's 1-based place in line."""
        return self._positions.get(job_id)

    def status_of(self, job_id: str) -> JobStatus | None:
        """Return a tracked job's state."""
        job = self._jobs.get(job_id)
        return job.status if job else None

    def entries(self) -> list[QueueEntry]:
        """List running jobs, then waiting ones in the order they will start."""
        running = [job for job in self._jobs.values() if job.status == "running"]
        waiting = sorted(
            (job for job in self._jobs.values() if job.status == "pending"),
            key=lambda job: self._positions.get(job.record.id, 0),
        )
        return [
            QueueEntry(
                job_id=job.record.id,
                owner=job.record.owner,
                status=job.status,
                position=self._positions.get(job.record.id),
                request=job.record.request,
                context=job.record.context,
            )
            for job in running + waiting
        ]

    @property
    def waiting(self) -> int:
        """Return how many jobs are waiting to start."""
        return len(self._fair)

    @property
    def running(self) -> int:
        """Return how many jobs are running now."""
        return sum(1 for job in self._jobs.values() if job.status == "running")

    # Internals -----------------------------------------------------------------------------

    def _track(self, record: JobRecord) -> ActiveJob:
        """Start tracking a job and give it a handle."""
        job = ActiveJob(record, JobHandle(record, self), attempts=record.attempts)
        self._jobs[record.id] = job
        return job

    def _forget(self, job: ActiveJob) -> None:
        """Stop tracking a finished job."""
        self._jobs.pop(job.record.id, None)

    def _enqueue(self, job: ActiveJob) -> None:
        """Put a job in line and wake a worker."""
        request = job.record.request
        self._fair.add(
            Waiting(
                job_id=job.record.id,
                owner=job.record.owner,
                cost=job_cost(request),
                images=request.num_images,
                batch_key=batch_key(request),
                model=request.model,
            )
        )
        self._work.set()

    def room_for(self, owner: str) -> int:
        """Return how many more jobs ``owner`` may queue now (``--repeat`` asks before queueing)."""
        mine = (
            self._fair.count_for(owner)
            + self._submitting[owner]
            + sum(
                1
                for job in self._jobs.values()
                if job.status == "running" and job.record.owner == owner
            )
        )
        own_room = self._settings.max_jobs_per_user - mine
        return max(0, min(own_room, self._settings.max_pending - len(self._fair)))

    def _check_limits(self, owner: str) -> None:
        """Refuse a submission over the owner's or the server's limit, saying when to retry."""
        running = sum(
            1
            for job in self._jobs.values()
            if job.status == "running" and job.record.owner == owner
        )
        mine = self._fair.count_for(owner) + running + self._submitting[owner]
        limit = self._settings.max_jobs_per_user
        if mine >= limit:
            raise QueueFullError(
                f"You already have {mine} jobs queued or running (the limit is {limit}). "
                f"Try again {self._retry_hint(owner)}, when one has finished."
            )
        if len(self._fair) >= self._settings.max_pending:
            raise QueueFullError(
                f"The queue is full: {len(self._fair)} jobs are waiting. "
                f"Try again {self._retry_hint(None)}."
            )

    def _retry_hint(self, owner: str | None) -> str:
        """Estimate when a place frees up: when the owner's (or anyone's) cheapest job ends."""
        costs = [
            job_cost(job.record.request)
            for job in self._jobs.values()
            if owner is None or job.record.owner == owner
        ]
        return self._pace.retry_hint(min(costs, default=0.0))

    def _publish_positions(self) -> None:
        """Recompute every waiting job's place and tell those whose place changed."""
        order = self._fair.projected_order()
        self._positions = {job_id: index + 1 for index, job_id in enumerate(order)}
        for job_id, position in self._positions.items():
            job = self._jobs.get(job_id)
            latest = job.handle.latest if job else None
            if job and (latest is None or latest.kind != "queued" or latest.position != position):
                job.handle.publish(JobEvent("queued", position=position))

    def _start_worker(self, index: int) -> None:
        """Start (or restart) the worker of engine ``index``, restarting it if it crashes."""
        task = asyncio.create_task(self._worker(index), name=f"easel-worker-{index}")
        if index < len(self._workers):
            self._workers[index] = task
        else:
            self._workers.append(task)

        def restart_if_crashed(finished: asyncio.Task[None]) -> None:
            if not finished.cancelled() and finished.exception() and not self._interrupting:
                logger.error(
                    "worker %d crashed; restarting it", index, exc_info=finished.exception()
                )
                self._start_worker(index)

        task.add_done_callback(restart_if_crashed)

    async def _worker(self, index: int) -> None:
        """Claim fair batches and run them on one engine until shutdown."""
        while not self._stopping:
            if not len(self._fair):
                self._work.clear()
                await self._work.wait()
                # Let submissions arriving together meet in one batch.
                await asyncio.sleep(self._settings.gather_ms / 1000)
                continue
            waiting = self._fair.take_batch(
                self._settings.max_batch_images, prefer=self._engine_workers[index].prefers
            )
            jobs = [self._jobs[w.job_id] for w in waiting if w.job_id in self._jobs]
            if not jobs:
                continue
            self._publish_positions()
            await self._run(index, jobs)

    async def _run(self, index: int, jobs: list[ActiveJob]) -> None:
        """Run a claimed batch on worker ``index``, tracking whether any batch is running."""
        self._batches_running += 1
        self._idle.clear()
        try:
            await self._engine_workers[index].run(jobs)
        finally:
            self._batches_running -= 1
            if not self._batches_running:
                self._idle.set()
