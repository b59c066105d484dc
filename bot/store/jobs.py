"""Jobs in SQLite: the queue's :class:`~pipeline.jobs.JobStore`, plus look-ups for the bot."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.job_context import stored_rate_charges
from bot.moderation.ratelimit import RateLimitedError, decide
from pipeline.jobs import JobRecord
from pipeline.request import GenerationRequest

if TYPE_CHECKING:
    from collections.abc import Iterable

    import aiosqlite

    from bot.moderation.ratelimit import RateCharge
    from bot.store.database import Database

JOB_COLUMNS = (
    "jobs.id, jobs.owner, jobs.status, jobs.request, jobs.context, jobs.attempts, jobs.error, "
    "jobs.outputs, jobs.created_at"
)


@dataclass(frozen=True)
class Activity:
    """What the server did in a period: jobs, images, failures, typical generation time."""

    jobs: int
    images: int
    failed: int
    median_seconds: float | None


class SqliteJobStore:
    """Persist jobs; every method returns after its transaction has committed."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, job: JobRecord) -> None:
        """Store a new pending job, first charging the rate limits its context names.

        Limits and the job are written in one transaction: a refusal (RateLimitedError)
        leaves neither, and an accepted job is never stored without its charge.
        """
        async with self._db.transaction() as connection:
            await _charge_rate_limits(connection, stored_rate_charges(job.context), time.time())
            await connection.execute(
                "INSERT INTO jobs (id, owner, status, request, context, attempts, created_at) "
                "VALUES (?, ?, 'pending', ?, ?, ?, ?)",
                (
                    job.id,
                    job.owner,
                    json.dumps(job.request.to_dict()),
                    json.dumps(job.context),
                    job.attempts,
                    job.created_at or time.time(),
                ),
            )

    async def mark_running(self, job_id: str, attempts: int) -> None:
        """Record that a job started its ``attempts``-th run."""
        await self._db.execute(
            "UPDATE jobs SET status = 'running', attempts = ?, started_at = ? "
            "WHERE id = ? AND status IN ('pending', 'running')",
            (attempts, time.time(), job_id),
        )

    async def mark_pending(self, job_id: str) -> None:
        """Put a job interrupted by a shutdown back to pending."""
        await self._db.execute(
            "UPDATE jobs SET status = 'pending' WHERE id = ? AND status = 'running'", (job_id,)
        )

    async def mark_done(self, job_id: str, outputs: tuple[Path, ...]) -> None:
        """Record a finished job and where its images were saved."""
        await self._db.execute(
            "UPDATE jobs SET status = 'done', outputs = ?, finished_at = ? "
            "WHERE id = ? AND status = 'running'",
            (json.dumps([str(path) for path in outputs]), time.time(), job_id),
        )

    async def mark_failed(self, job_id: str, reason: str) -> None:
        """Record a failed job and the reason its owner was given."""
        await self._finish(job_id, "failed", reason)

    async def mark_canceled(self, job_id: str, reason: str) -> None:
        """Record a canceled job and the reason its owner was given."""
        await self._finish(job_id, "canceled", reason)

    async def unfinished(self) -> list[JobRecord]:
        """Return pending and running jobs in the order they were submitted."""
        rows = await self._db.fetch_all(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ('pending', 'running') ORDER BY seq"
        )
        return [record_from_row(row) for row in rows]

    async def get(self, job_id: str) -> JobRecord | None:
        """Return one job by id, whatever its state."""
        row = await self._db.fetch_one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return record_from_row(row) if row else None

    async def activity_since(self, since: float, *, guild_id: int) -> Activity:
        """Count a guild's jobs and images since a time, and the median time of those done."""
        rows = await self._db.fetch_all(
            "SELECT status, outputs, started_at, finished_at FROM jobs "
            "WHERE created_at >= ? AND json_extract(context, '$.guild_id') = ?",
            (since, str(guild_id)),
        )
        done = [row for row in rows if row["status"] == "done"]
        durations = sorted(
            row["finished_at"] - row["started_at"]
            for row in done
            if row["finished_at"] is not None and row["started_at"] is not None
        )
        return Activity(
            jobs=len(rows),
            images=sum(len(json.loads(row["outputs"])) for row in done),
            failed=sum(1 for row in rows if row["status"] == "failed"),
            median_seconds=durations[len(durations) // 2] if durations else None,
        )

    async def _finish(self, job_id: str, status: str, reason: str) -> None:
        """Move an unfinished job to a final state with a reason."""
        await self._db.execute(
            "UPDATE jobs SET status = ?, error = ?, finished_at = ? "
            "WHERE id = ? AND status IN ('pending', 'running')",
            (status, reason, time.time(), job_id),
        )


async def _charge_rate_limits(
    connection: aiosqlite.Connection, charges: Iterable[RateCharge], now: float
) -> None:
    """Apply each GCRA limit in turn; raise RateLimitedError (rolling back) on the first refusal."""
    for charge in charges:
        cursor = await connection.execute(
            "SELECT tat FROM rate_limits WHERE key = ?", (charge.key,)
        )
        row = await cursor.fetchone()
        decision = decide(None if row is None else float(row[0]), now, charge.limit)
        if not decision.allowed:
            raise RateLimitedError(f"{charge.refusal} — {decision.retry_text()}.")
        await connection.execute(
            "INSERT INTO rate_limits (key, tat) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET tat = excluded.tat",
            (charge.key, decision.tat),
        )


def record_from_row(row: aiosqlite.Row) -> JobRecord:
    """Rebuild a job record from its row."""
    return JobRecord(
        id=row["id"],
        owner=row["owner"],
        request=GenerationRequest.from_dict(json.loads(row["request"])),
        status=row["status"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        context=json.loads(row["context"]),
        error=row["error"],
        outputs=tuple(Path(path) for path in json.loads(row["outputs"])),
    )
