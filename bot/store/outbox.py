"""The outbox in SQLite: which finished jobs wait for Discord, since when, and until when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiosqlite

    from bot.store.database import Database


@dataclass(frozen=True)
class OutboxEntry:
    """A delivery Discord has not accepted yet.

    ``late`` says whether Discord itself failed (the result, when it comes, says so), rather
    than the bot stopping before it delivered.
    """

    job_id: str
    attempts: int
    next_at: float
    late: bool
    last_error: str
    first_attempt_at: float


class OutboxStore:
    """Read and write the outbox; removing a row happens with the delivery's own record."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def put(
        self, job_id: str, *, next_at: float, now: float, late: bool, error: str, failed: bool
    ) -> OutboxEntry:
        """Owe a delivery (counting a failed attempt if ``failed``) due at ``next_at``.

        ``now`` becomes the first attempt's time when the job enters the outbox, and is kept
        on later calls.
        """
        async with self._db.transaction() as connection:
            await connection.execute(
                "INSERT INTO outbox (job_id, attempts, next_at, late, last_error, "
                "first_attempt_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET "
                "attempts = attempts + excluded.attempts, next_at = excluded.next_at, "
                "late = MAX(late, excluded.late), last_error = excluded.last_error",
                (job_id, int(failed), next_at, int(late), error, now),
            )
            cursor = await connection.execute(_SELECT + " WHERE job_id = ?", (job_id,))
            row = await cursor.fetchone()
        assert row is not None
        return _entry(row)

    async def get(self, job_id: str) -> OutboxEntry | None:
        """Return a job's outbox row, if its delivery is still owed."""
        row = await self._db.fetch_one(_SELECT + " WHERE job_id = ?", (job_id,))
        return None if row is None else _entry(row)

    async def due(self, now: float) -> list[OutboxEntry]:
        """Return the deliveries due by ``now``, earliest first."""
        rows = await self._db.fetch_all(_SELECT + " WHERE next_at <= ? ORDER BY next_at", (now,))
        return [_entry(row) for row in rows]

    async def next_due(self) -> float | None:
        """Return when the earliest owed delivery is due, or None when none is owed."""
        row = await self._db.fetch_one("SELECT MIN(next_at) FROM outbox")
        return None if row is None or row[0] is None else float(row[0])

    async def all(self) -> list[OutboxEntry]:
        """Return every owed delivery, earliest first."""
        return [_entry(row) for row in await self._db.fetch_all(_SELECT + " ORDER BY next_at")]


_SELECT = "SELECT job_id, attempts, next_at, late, last_error, first_attempt_at FROM outbox"


def _entry(row: aiosqlite.Row) -> OutboxEntry:
    """Rebuild an outbox row."""
    return OutboxEntry(
        job_id=row["job_id"],
        attempts=int(row["attempts"]),
        next_at=float(row["next_at"]),
        late=bool(row["late"]),
        last_error=row["last_error"],
        first_attempt_at=float(row["first_attempt_at"]),
    )
