"""Which job outcomes were shown to their owners, and in which message."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.store.jobs import JOB_COLUMNS, record_from_row

if TYPE_CHECKING:
    from bot.store.database import Database
    from pipeline.jobs import JobRecord

DeliveryOutcome = Literal["done", "failed", "canceled", "undeliverable"]


@dataclass(frozen=True)
class DeliveryRecord:
    """A delivered outcome: the message that shows it (if any) and when."""

    job_id: str
    outcome: DeliveryOutcome
    channel_id: int | None
    message_id: int | None
    delivered_at: float


class DeliveryStore:
    """Record deliveries and find finished jobs nobody was told about."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(
        self,
        job_id: str,
        outcome: DeliveryOutcome,
        *,
        channel_id: int | None = None,
        message_id: int | None = None,
    ) -> None:
        """Record that a job's owner was shown its outcome (idempotent); it leaves the outbox."""
        async with self._db.transaction() as connection:
            await connection.execute(
                "INSERT OR REPLACE INTO deliveries (job_id, outcome, channel_id, message_id, "
                "delivered_at) VALUES (?, ?, ?, ?, ?)",
                (
                    job_id,
                    outcome,
                    None if channel_id is None else str(channel_id),
                    None if message_id is None else str(message_id),
                    time.time(),
                ),
            )
            await connection.execute("DELETE FROM outbox WHERE job_id = ?", (job_id,))

    async def get(self, job_id: str) -> DeliveryRecord | None:
        """Return a job's delivery, if it was delivered."""
        row = await self._db.fetch_one(
            "SELECT job_id, outcome, channel_id, message_id, delivered_at FROM deliveries "
            "WHERE job_id = ?",
            (job_id,),
        )
        if row is None:
            return None
        return DeliveryRecord(
            job_id=row["job_id"],
            outcome=row["outcome"],
            channel_id=None if row["channel_id"] is None else int(row["channel_id"]),
            message_id=None if row["message_id"] is None else int(row["message_id"]),
            delivered_at=row["delivered_at"],
        )

    async def undeliverable_since(self, since: float, *, guild_id: int) -> list[JobRecord]:
        """Return a guild's jobs found undeliverable since a time, newest first."""
        rows = await self._db.fetch_all(
            f"SELECT {JOB_COLUMNS} FROM jobs JOIN deliveries ON deliveries.job_id = jobs.id "
            "WHERE deliveries.outcome = 'undeliverable' AND deliveries.delivered_at >= ? "
            "AND json_extract(jobs.context, '$.guild_id') = ? "
            "ORDER BY deliveries.delivered_at DESC",
            (since, str(guild_id)),
        )
        return [record_from_row(row) for row in rows]

    async def undelivered(self) -> list[JobRecord]:
        """Return finished jobs whose owners were never shown the outcome, oldest first."""
        rows = await self._db.fetch_all(
            f"SELECT {JOB_COLUMNS} FROM jobs LEFT JOIN deliveries ON deliveries.job_id = jobs.id "
            "WHERE jobs.status IN ('done', 'failed', 'canceled') AND deliveries.job_id IS NULL "
            "ORDER BY jobs.seq"
        )
        return [record_from_row(row) for row in rows]
