"""The SQLite job store: states a job moves through, the queue's order, activity, rate limits."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.job_context import JobContext, JobKind
from bot.moderation.ratelimit import RateCharge, RateLimit, RateLimitedError
from bot.store.jobs import SqliteJobStore
from pipeline.config import GenerationSettings
from pipeline.jobs import JobRecord
from pipeline.request import GenerationRequest, parse_request
from tests.request_fixtures import sd_profile

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.store.database import Database

SLOW = RateLimit(per_minute=1.0, burst=2)


@pytest.fixture
def store(database: Database) -> SqliteJobStore:
    """Build the job store on the fresh database."""
    return SqliteJobStore(database)


def request(prompt: str = "a red fox in the snow") -> GenerationRequest:
    """Parse a prompt with the default settings and a fixed seed."""
    return parse_request(
        prompt, settings=GenerationSettings(), profile=sd_profile((512, 512)), seed_source=lambda: 7
    )


def context(*charges: RateCharge) -> dict[str, Any]:
    """Return the stored context of a job made in a guild, charged against ``charges``."""
    return JobContext(
        kind=JobKind.IMAGINE,
        channel_id=222,
        application_id=333,
        guild_id=111,
        token="token",
        token_issued_at=1000.0,
        message_id=444,
        rate_charges=charges,
    ).to_stored()


def job(job_id: str, *, created_at: float = 0.0, **fields: Any) -> JobRecord:
    """Return a new pending job owned by user 42."""
    return JobRecord(
        id=job_id,
        owner="42",
        request=request(),
        created_at=created_at,
        context=fields.pop("context", context()),
        **fields,
    )


async def status_of(store: SqliteJobStore, job_id: str) -> str:
    """Return the stored status of a job that must exist."""
    found = await store.get(job_id)
    assert found is not None
    return found.status


async def test_add_stores_a_pending_job_with_its_request_and_context(
    store: SqliteJobStore,
) -> None:
    """Read back an added job as pending, with the same request, owner and context."""
    charge = RateCharge("user:111:42", SLOW, "Too fast")
    original = job("a1", context=context(charge))
    await store.add(original)
    stored = await store.get("a1")
    assert stored is not None
    assert stored.status == "pending"
    assert stored.owner == "42"
    assert stored.request == original.request
    assert stored.context == original.context
    assert JobContext.from_stored(stored.context).rate_charges == (charge,)


async def test_unfinished_returns_an_added_job_intact(store: SqliteJobStore) -> None:
    """List a pending job with its request and context as they were added."""
    original = job("a1")
    await store.add(original)
    [listed] = await store.unfinished()
    assert (listed.id, listed.request, listed.context) == ("a1", original.request, original.context)


async def test_get_of_an_unknown_job_is_none(store: SqliteJobStore) -> None:
    """Return None for an id that was never stored."""
    assert await store.get("missing") is None


async def test_mark_running_records_the_attempt(store: SqliteJobStore) -> None:
    """Move a pending job to running with its attempt count."""
    await store.add(job("a1"))
    await store.mark_running("a1", attempts=2)
    running = await store.get("a1")
    assert running is not None
    assert (running.status, running.attempts) == ("running", 2)


async def test_mark_pending_puts_a_running_job_back(store: SqliteJobStore) -> None:
    """Return an interrupted running job to pending."""
    await store.add(job("a1"))
    await store.mark_running("a1", attempts=1)
    await store.mark_pending("a1")
    assert await status_of(store, "a1") == "pending"


async def test_mark_done_records_the_outputs(store: SqliteJobStore) -> None:
    """Finish a running job as done with the paths of its images."""
    await store.add(job("a1"))
    await store.mark_running("a1", attempts=1)
    await store.mark_done("a1", (Path("out/a1-0.png"), Path("out/a1-1.png")))
    done = await store.get("a1")
    assert done is not None
    assert done.status == "done"
    assert done.outputs == (Path("out/a1-0.png"), Path("out/a1-1.png"))


async def test_mark_done_ignores_a_job_that_never_ran(store: SqliteJobStore) -> None:
    """Leave a pending job pending when it is marked done without having run."""
    await store.add(job("a1"))
    await store.mark_done("a1", (Path("out/a1-0.png"),))
    assert await status_of(store, "a1") == "pending"


async def test_mark_failed_records_the_reason(store: SqliteJobStore) -> None:
    """Finish a running job as failed with the reason its owner was given."""
    await store.add(job("a1"))
    await store.mark_running("a1", attempts=1)
    await store.mark_failed("a1", "out of memory")
    failed = await store.get("a1")
    assert failed is not None
    assert (failed.status, failed.error) == ("failed", "out of memory")


async def test_mark_canceled_finishes_a_pending_job(store: SqliteJobStore) -> None:
    """Cancel a job that is still waiting, keeping the reason."""
    await store.add(job("a1"))
    await store.mark_canceled("a1", "canceled by its owner")
    canceled = await store.get("a1")
    assert canceled is not None
    assert (canceled.status, canceled.error) == ("canceled", "canceled by its owner")


async def test_a_done_job_is_not_marked_failed(store: SqliteJobStore) -> None:
    """Keep a done job done, with no error, when it is marked failed afterwards."""
    await store.add(job("a1"))
    await store.mark_running("a1", attempts=1)
    await store.mark_done("a1", (Path("out/a1-0.png"),))
    await store.mark_failed("a1", "too late")
    done = await store.get("a1")
    assert done is not None
    assert (done.status, done.error) == ("done", None)


LATER_MARKS: dict[str, Callable[[SqliteJobStore], Awaitable[None]]] = {
    "running": lambda store: store.mark_running("a1", attempts=3),
    "pending": lambda store: store.mark_pending("a1"),
    "done": lambda store: store.mark_done("a1", (Path("a1-0.png"),)),
    "canceled": lambda store: store.mark_canceled("a1", "canceled"),
}


@pytest.mark.parametrize("later", sorted(LATER_MARKS))
async def test_a_failed_job_is_not_moved_again(store: SqliteJobStore, later: str) -> None:
    """Keep a failed job failed whatever state it is marked with afterwards."""
    await store.add(job("a1"))
    await store.mark_failed("a1", "boom")
    await LATER_MARKS[later](store)
    failed = await store.get("a1")
    assert failed is not None
    assert (failed.status, failed.error, failed.attempts) == ("failed", "boom", 0)


async def test_unfinished_lists_pending_and_running_in_submission_order(
    store: SqliteJobStore,
) -> None:
    """List waiting and running jobs in the order they were added, leaving finished ones out."""
    for job_id in ("c", "a", "d", "b"):
        await store.add(job(job_id))
    await store.mark_running("d", attempts=1)
    await store.mark_canceled("a", "canceled")
    assert [found.id for found in await store.unfinished()] == ["c", "d", "b"]


async def test_activity_since_counts_jobs_images_failures_and_the_median(
    store: SqliteJobStore, database: Database
) -> None:
    """Count the period's jobs, the images of done ones, the failures, and the median time."""
    for job_id, seconds in (("a", 4.0), ("b", 1.0), ("c", 9.0)):
        await store.add(job(job_id, created_at=2000.0))
        await store.mark_running(job_id, attempts=1)
        await store.mark_done(job_id, (Path(f"{job_id}-0.png"), Path(f"{job_id}-1.png")))
        # Durations are wall-clock; pin them so the median is known.
        await database.execute(
            "UPDATE jobs SET started_at = 100.0, finished_at = ? WHERE id = ?",
            (100.0 + seconds, job_id),
        )
    await store.add(job("failed", created_at=2000.0))
    await store.mark_failed("failed", "boom")
    await store.add(job("waiting", created_at=2000.0))
    await store.add(job("old", created_at=500.0))
    activity = await store.activity_since(1000.0, guild_id=111)
    assert (activity.jobs, activity.images, activity.failed) == (5, 6, 1)
    assert activity.median_seconds == 4.0


async def test_activity_since_counts_only_the_guilds_own_jobs(store: SqliteJobStore) -> None:
    """Leave out the jobs another server made in the same period."""
    await store.add(job("here", created_at=2000.0))
    elsewhere = {**context(), "guild_id": "999"}
    await store.add(job("elsewhere", created_at=2000.0, context=elsewhere))
    assert (await store.activity_since(1000.0, guild_id=111)).jobs == 1
    assert (await store.activity_since(1000.0, guild_id=999)).jobs == 1


async def test_activity_since_has_no_median_without_done_jobs(store: SqliteJobStore) -> None:
    """Report no median when no job of the period finished."""
    await store.add(job("a", created_at=2000.0))
    activity = await store.activity_since(1000.0, guild_id=111)
    assert (activity.jobs, activity.images, activity.failed) == (1, 0, 0)
    assert activity.median_seconds is None


async def test_add_over_the_burst_is_refused_and_stores_no_job(store: SqliteJobStore) -> None:
    """Raise RateLimitedError with the refusal once the burst is used, storing nothing."""
    charge = RateCharge("user:111:42", SLOW, "You are making images too fast")
    await store.add(job("a", context=context(charge)))
    await store.add(job("b", context=context(charge)))
    with pytest.raises(RateLimitedError, match="You are making images too fast — try again in"):
        await store.add(job("c", context=context(charge)))
    assert await store.get("c") is None
    assert [found.id for found in await store.unfinished()] == ["a", "b"]


async def test_a_refused_add_charges_none_of_its_limits(store: SqliteJobStore) -> None:
    """Roll back the member's charge when the guild's limit refuses the same job."""
    member = RateCharge("user:111:42", SLOW, "member refusal")
    guild = RateCharge("guild:111", RateLimit(per_minute=1.0, burst=1), "guild refusal")
    await store.add(job("a", context=context(member, guild)))
    with pytest.raises(RateLimitedError, match="guild refusal"):
        await store.add(job("b", context=context(member, guild)))
    # The member's burst of 2 still has room only if job b's charge was rolled back.
    await store.add(job("c", context=context(member)))
    assert [found.id for found in await store.unfinished()] == ["a", "c"]


async def test_charges_are_kept_per_key(store: SqliteJobStore) -> None:
    """Charge each key separately, so one member's burst does not use up another's."""
    first = RateCharge("user:111:42", RateLimit(per_minute=1.0, burst=1), "first")
    second = RateCharge("user:111:43", RateLimit(per_minute=1.0, burst=1), "second")
    await store.add(job("a", context=context(first)))
    await store.add(job("b", context=context(second)))
    with pytest.raises(RateLimitedError, match="first"):
        await store.add(job("c", context=context(first)))
