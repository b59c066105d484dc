"""The outbox in SQLite: owed deliveries, their attempts and due times, and their end."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.store.deliveries import DeliveryStore
from bot.store.jobs import SqliteJobStore
from bot.store.outbox import OutboxStore
from pipeline.config import GenerationSettings
from pipeline.jobs import JobRecord
from pipeline.request import parse_request
from tests.request_fixtures import sd_profile

if TYPE_CHECKING:
    from bot.store.database import Database


@pytest.fixture
async def outbox(database: Database) -> OutboxStore:
    """Store two jobs the outbox rows refer to, and return the outbox."""
    request = parse_request(
        "a fox", settings=GenerationSettings(), profile=sd_profile((64, 64)), seed_source=lambda: 1
    )
    for job_id in ("a", "b"):
        await SqliteJobStore(database).add(JobRecord(id=job_id, owner="1", request=request))
    return OutboxStore(database)


async def test_a_first_failure_owes_the_delivery_with_one_attempt(outbox: OutboxStore) -> None:
    """Store a failed first attempt with its error, due time and start."""
    entry = await outbox.put("a", next_at=12.0, now=10.0, late=True, error="503", failed=True)
    assert (entry.attempts, entry.next_at, entry.late, entry.last_error) == (1, 12.0, True, "503")
    assert entry.first_attempt_at == 10.0


async def test_more_failures_count_up_and_keep_the_first_attempts_time(
    outbox: OutboxStore,
) -> None:
    """Count every failed attempt, move the due time, and keep when it all began."""
    await outbox.put("a", next_at=12.0, now=10.0, late=False, error="restart", failed=False)
    await outbox.put("a", next_at=20.0, now=15.0, late=True, error="502", failed=True)
    entry = await outbox.put("a", next_at=40.0, now=25.0, late=False, error="500", failed=True)
    assert (entry.attempts, entry.next_at, entry.first_attempt_at) == (2, 40.0, 10.0)
    assert entry.late  # once Discord failed it, it stays late


async def test_due_lists_what_is_due_earliest_first(outbox: OutboxStore) -> None:
    """Return only the deliveries due by now, in the order they fell due."""
    await outbox.put("a", next_at=30.0, now=0.0, late=True, error="x", failed=True)
    await outbox.put("b", next_at=20.0, now=0.0, late=True, error="x", failed=True)
    assert [e.job_id for e in await outbox.due(25.0)] == ["b"]
    assert [e.job_id for e in await outbox.due(30.0)] == ["b", "a"]
    assert await outbox.next_due() == 20.0


async def test_recording_the_delivery_ends_what_is_owed(
    outbox: OutboxStore, database: Database
) -> None:
    """Take the job out of the outbox in the transaction that records its delivery."""
    await outbox.put("a", next_at=30.0, now=0.0, late=True, error="x", failed=True)
    await DeliveryStore(database).record("a", "done", channel_id=1, message_id=2)
    assert await outbox.get("a") is None
    assert await outbox.next_due() is None
