"""Helpers of the scheduler's tests: an engine that keeps its stop checks, and waits on jobs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.pipeline.faulty_engine import FaultyEngine

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pipeline.engine import Engine, GenerationResult, Progress
    from pipeline.handles import JobHandle
    from pipeline.jobs import JobEvent
    from pipeline.request import GenerationRequest
    from pipeline.scheduler import JobScheduler


@dataclass
class WatchedEngine(FaultyEngine):
    """The faulty engine, also keeping the stop check the queue gave its latest call."""

    stop_checks: list[Callable[[], bool]] = field(default_factory=list)

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Keep ``cancel``, then run as the faulty engine does."""
        if cancel is not None:
            self.stop_checks.append(cancel)
        return super().generate_batch(requests, progress=progress, cancel=cancel)

    async def asked_to_stop(self) -> None:
        """Return once the running call's stop check answers True."""
        async with asyncio.timeout(20):
            # The queue raises no event when it starts interrupting; its stop check is the sign.
            while not (self.stop_checks and self.stop_checks[-1]()):  # noqa: ASYNC110
                await asyncio.sleep(0.01)


async def wait_for_event(handle: JobHandle, kind: str) -> JobEvent:
    """Return the handle's first event of a kind."""
    async with asyncio.timeout(20):
        async for event in handle.events():
            if event.kind == kind:
                return event
    raise AssertionError(f"{handle} ended without a {kind} event")


async def held_running_job(
    scheduler: JobScheduler, faulty: FaultyEngine, engine: Engine, owner: str = "A"
) -> JobHandle:
    """Submit a job and return once the worker is paused inside it after step 1."""
    faulty.hold_after_first_step = True
    handle = await scheduler.submit(engine.parse("a held job --steps 8"), owner)
    await asyncio.to_thread(faulty.holding.wait, 20)
    return handle
