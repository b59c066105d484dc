"""The submitter's view of a job: live position and status, a stream of events, the result.

Every subscriber to :meth:`JobHandle.events` sees every event from the first, in order, so a
message updater that subscribes late (after a restart, say) still sees the whole story; only
successive places in line collapse into the latest.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.jobs import JobCanceledError, JobEvent, JobFailedError, JobRecord, JobResult

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from pipeline.jobs import JobStatus
    from pipeline.request import GenerationRequest


class _Scheduler(Protocol):
    """What a handle asks of the scheduler that made it."""

    def position_of(self, job_id: str) -> int | None:
        """Return the job's 1-based place in line, or None when not waiting."""

    def status_of(self, job_id: str) -> JobStatus | None:
        """Return the job's current state, or None when the scheduler forgot it."""

    async def cancel(self, job_id: str, reason: str) -> bool:
        """Cancel the job; return whether it was still unfinished."""


class JobHandle:
    """A submitted job: position, status, events, result and cancel."""

    def __init__(self, record: JobRecord, scheduler: _Scheduler) -> None:
        self.record = record
        self._scheduler = scheduler
        self._events: list[JobEvent] = []
        self._changed = asyncio.Event()
        self._outcome: JobResult | BaseException | None = None

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} {self.status}>"

    @property
    def id(self) -> str:
        """Return the job id."""
        return self.record.id

    @property
    def owner(self) -> str:
        """Return who the job belongs to."""
        return self.record.owner

    @property
    def request(self) -> GenerationRequest:
        """Return what the job draws."""
        return self.record.request

    @property
    def context(self) -> dict[str, Any]:
        """Return the submitter's own context stored with the job."""
        return self.record.context

    @property
    def position(self) -> int | None:
        """Return the job's 1-based place in line (1 = next), or None when not waiting."""
        return self._scheduler.position_of(self.id)

    @property
    def status(self) -> JobStatus:
        """Return the job's current state."""
        if self._events and self._events[-1].is_final:
            return self._events[-1].kind  # type: ignore[return-value]
        return self._scheduler.status_of(self.id) or self.record.status

    @property
    def latest(self) -> JobEvent | None:
        """Return the most recent event, if any."""
        return self._events[-1] if self._events else None

    async def events(self) -> AsyncIterator[JobEvent]:
        """Yield every event from the first, ending after the final one.

        A new place in line replaces the previous one (see :meth:`publish`): a subscriber
        that already saw the old place is given the new one.
        """
        index = 0
        last: JobEvent | None = None
        while True:
            while index < len(self._events) or (index and self._events[index - 1] is not last):
                if index == len(self._events):
                    index -= 1  # the last event was replaced after we saw it
                event = self._events[index]
                index += 1
                last = event
                yield event
                if event.is_final:
                    return
            await self._changed.wait()

    async def result(self) -> JobResult:
        """Wait for the job to finish; raise if it failed or was canceled."""
        async for _event in self.events():
            pass
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None  # a final event always comes with an outcome
        return self._outcome

    async def cancel(self, reason: str = "canceled by its owner") -> bool:
        """Cancel the job; return whether it was still unfinished."""
        return await self._scheduler.cancel(self.id, reason)

    def publish(self, event: JobEvent) -> None:
        """Record an event and wake every subscriber (for the scheduler).

        A "queued" event right after another replaces it: a waiting job's place changes with
        every submission, and keeping each one would grow with the square of the queue.
        """
        if self._events and self._events[-1].is_final:
            return
        if event.kind == "queued" and self._events and self._events[-1].kind == "queued":
            self._events[-1] = event
        else:
            self._events.append(event)
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()

    def succeed(self, result: JobResult) -> None:
        """Finish with a result (for the scheduler)."""
        self._finish(result, JobEvent("done"))

    def fail(self, message: str) -> None:
        """Finish as failed with a message for the owner (for the scheduler)."""
        self._finish(JobFailedError(message), JobEvent("failed", message=message))

    def mark_canceled(self, message: str) -> None:
        """Finish as canceled with a message for the owner (for the scheduler)."""
        self._finish(JobCanceledError(message), JobEvent("canceled", message=message))

    def _finish(self, outcome: JobResult | BaseException, event: JobEvent) -> None:
        """Set the outcome and publish the final event, once."""
        if self._events and self._events[-1].is_final:
            return
        self._outcome = outcome
        self.publish(event)
