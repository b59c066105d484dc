"""The outbox: deliveries Discord did not accept yet, retried until they are delivered.

A transient failure puts the job in the outbox (persisted, see :mod:`bot.store.outbox`); it is
tried again after a capped exponential backoff with jitter, across restarts, until Discord
takes it or says the channel is unreachable. Every retry goes through
:meth:`Courier.deliver` with the first attempt's time, so an attempt that reached Discord but
lost its answer is found instead of posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bot.courier import Courier
    from bot.store.jobs import SqliteJobStore
    from bot.store.outbox import OutboxEntry, OutboxStore
    from pipeline.jobs import JobRecord

logger = logging.getLogger(__name__)

RESTARTED = "the bot restarted before delivering it"
POLL_SECONDS = 1.0  # how often the clock is read; tests move the clock instead of waiting


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: each wait is 50–100 % of min(cap, base·2ⁿ)."""

    base: float = 2.0
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempts: int) -> float:
        """Return how long to wait after ``attempts`` failed attempts."""
        ceiling = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        return float(ceiling * self.rng.uniform(0.5, 1.0))


class Outbox:
    """Owe deliveries Discord refused for now, and make them when they are due."""

    def __init__(
        self,
        store: OutboxStore,
        jobs: SqliteJobStore,
        courier: Courier,
        *,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
    ) -> None:
        self._store = store
        self._jobs = jobs
        self._courier = courier
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._woken = asyncio.Event()

    async def owe(self, job_id: str, error: str, *, began: float, late: bool = True) -> OutboxEntry:
        """Record a failed attempt, begun at ``began``, and when to try again.

        Retries look for the job's message from the first attempt's beginning on, in case
        that attempt reached Discord and only its answer was lost.
        """
        now = self._clock()
        current = await self._store.get(job_id)
        attempts = (current.attempts if current else 0) + 1
        next_at = now + self._backoff.delay(attempts)
        entry = await self._store.put(
            job_id, next_at=next_at, now=began, late=late, error=error, failed=True
        )
        logger.info(
            "job %s waits in the outbox (attempt %d failed: %s)", job_id, entry.attempts, error
        )
        return entry

    async def resume(self, undelivered: Sequence[JobRecord]) -> None:
        """Owe, due at once, the finished jobs the bot stopped before delivering."""
        now = self._clock()
        for job in undelivered:
            if await self._store.get(job.id) is None:
                # An attempt may have reached Discord before the stop: look from the job's start.
                await self._store.put(
                    job.id,
                    next_at=now,
                    now=job.created_at,
                    late=False,
                    error=RESTARTED,
                    failed=False,
                )
        self._woken.set()

    async def run_forever(self) -> None:
        """Make due deliveries until cancelled; a failed round is logged, not fatal."""
        while True:
            try:
                for entry in await self._store.due(self._clock()):
                    await self._retry(entry)
            except Exception:
                logger.exception("the outbox failed a round; it tries again shortly")
            self._woken.clear()
            await self._sleep()

    async def _retry(self, entry: OutboxEntry) -> None:
        """Try one owed delivery again; a bug in it backs off like a failure, never spins."""
        job = await self._jobs.get(entry.job_id)
        if job is None:
            return  # the row went with its job
        try:
            attempt = await self._courier.deliver(
                job, late=entry.late, since=entry.first_attempt_at
            )
        except Exception:
            logger.exception("delivering job %s failed unexpectedly; it stays owed", job.id)
            await self.owe(job.id, "an internal error", began=entry.first_attempt_at)
            return
        if attempt.result == "retry":
            # Discord failed it: late from now on; the first attempt's time is kept.
            await self.owe(job.id, attempt.detail, began=entry.first_attempt_at)
        elif attempt.result == "delivered":
            logger.info(
                "job %s delivered from the outbox after %d attempt(s)", job.id, entry.attempts
            )

    async def _sleep(self) -> None:
        """Wait until the next delivery is due (polling the clock), or until woken."""
        due = await self._store.next_due()
        wait = POLL_SECONDS if due is None else max(0.0, min(POLL_SECONDS, due - self._clock()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout=wait)
