"""The delivery store: which outcomes were shown, and which finished jobs nobody was told of."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.job_context import JobContext, JobKind
from bot.store.deliveries import DeliveryStore
from bot.store.jobs import SqliteJobStore
from pipeline.config import GenerationSettings
from pipeline.jobs import JobRecord
from pipeline.request import parse_request
from tests.request_fixtures import sd_profile

if TYPE_CHECKING:
    from bot.store.database import Database

# Discord snowflakes exceed JSON's safe integers; they must come back exactly.
CHANNEL = 1_234_567_890_123_456_789
MESSAGE = 9_876_543_210_987_654_321


@pytest.fixture
def jobs(database: Database) -> SqliteJobStore:
    """Build the job store the deliveries refer to."""
    return SqliteJobStore(database)


@pytest.fixture
def deliveries(database: Database) -> DeliveryStore:
    """Build the delivery store on the fresh database."""
    return DeliveryStore(database)


async def add_job(jobs: SqliteJobStore, job_id: str) -> None:
    """Store a pending job with a guild context."""
    request = parse_request(
        "a lighthouse at dusk",
        settings=GenerationSettings(),
        profile=sd_profile((512, 512)),
        seed_source=lambda: 1,
    )
    context = JobContext(kind=JobKind.IMAGINE, channel_id=CHANNEL, application_id=5, guild_id=6)
    await jobs.add(JobRecord(id=job_id, owner="42", request=request, context=context.to_stored()))


async def finish(jobs: SqliteJobStore, job_id: str) -> None:
    """Store a job and run it to done."""
    await add_job(jobs, job_id)
    await jobs.mark_running(job_id, attempts=1)
    await jobs.mark_done(job_id, (Path(f"{job_id}-0.png"),))


async def test_a_recorded_delivery_reads_back(
    jobs: SqliteJobStore, deliveries: DeliveryStore
) -> None:
    """Return the outcome, channel and message recorded for a job."""
    await finish(jobs, "a")
    await deliveries.record("a", "done", channel_id=CHANNEL, message_id=MESSAGE)
    delivered = await deliveries.get("a")
    assert delivered is not None
    assert (delivered.job_id, delivered.outcome) == ("a", "done")
    assert (delivered.channel_id, delivered.message_id) == (CHANNEL, MESSAGE)
    assert delivered.delivered_at > 0


async def test_a_delivery_without_a_message_reads_back_as_none(
    jobs: SqliteJobStore, deliveries: DeliveryStore
) -> None:
    """Keep an undeliverable outcome's missing channel and message as None."""
    await finish(jobs, "a")
    await deliveries.record("a", "undeliverable")
    delivered = await deliveries.get("a")
    assert delivered is not None
    assert (delivered.outcome, delivered.channel_id, delivered.message_id) == (
        "undeliverable",
        None,
        None,
    )


async def test_get_of_an_undelivered_job_is_none(
    jobs: SqliteJobStore, deliveries: DeliveryStore
) -> None:
    """Return None for a job that was never delivered."""
    await finish(jobs, "a")
    assert await deliveries.get("a") is None


async def test_recording_again_replaces_the_delivery(
    jobs: SqliteJobStore, deliveries: DeliveryStore, database: Database
) -> None:
    """Keep one delivery per job, the latest one recorded."""
    await finish(jobs, "a")
    await deliveries.record("a", "undeliverable")
    await deliveries.record("a", "done", channel_id=CHANNEL, message_id=MESSAGE)
    delivered = await deliveries.get("a")
    assert delivered is not None
    assert (delivered.outcome, delivered.message_id) == ("done", MESSAGE)
    rows = await database.fetch_all("SELECT job_id FROM deliveries")
    assert [row["job_id"] for row in rows] == ["a"]


async def test_undelivered_lists_finished_jobs_without_a_delivery_oldest_first(
    jobs: SqliteJobStore, deliveries: DeliveryStore
) -> None:
    """List done, failed and canceled jobs nobody was told of, in submission order."""
    await finish(jobs, "done-delivered")
    await deliveries.record("done-delivered", "done", channel_id=CHANNEL, message_id=MESSAGE)
    await finish(jobs, "done")
    await add_job(jobs, "failed")
    await jobs.mark_failed("failed", "boom")
    await add_job(jobs, "canceled")
    await jobs.mark_canceled("canceled", "canceled by its owner")
    assert [job.id for job in await deliveries.undelivered()] == ["done", "failed", "canceled"]


async def test_undelivered_leaves_out_pending_and_running_jobs(
    jobs: SqliteJobStore, deliveries: DeliveryStore
) -> None:
    """List no job that has not finished yet."""
    await add_job(jobs, "pending")
    await add_job(jobs, "running")
    await jobs.mark_running("running", attempts=1)
    assert await deliveries.undelivered() == []


async def test_undelivered_jobs_keep_their_outputs_and_context(
    jobs: SqliteJobStore, deliveries: DeliveryStore
) -> None:
    """Return each undelivered job with what its delivery needs: outputs and context."""
    await finish(jobs, "a")
    [job] = await deliveries.undelivered()
    assert job.outputs == (Path("a-0.png"),)
    assert JobContext.of(job).channel_id == CHANNEL
