"""The submitter's view of a job: the event history, the result, and what it asks the scheduler."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from pipeline.handles import JobHandle
from pipeline.jobs import JobCanceledError, JobEvent, JobFailedError, JobRecord, JobResult
from pipeline.request import GenerationRequest

if TYPE_CHECKING:
    from pipeline.jobs import EventKind, JobStatus

REQUEST = GenerationRequest(
    prompt="a red circle",
    negative_prompt="",
    width=32,
    height=32,
    steps=1,
    guidance=5.0,
    seed=1,
    sampler="Euler",
    num_images=1,
)


class ScriptedScheduler:
    """A scheduler that only knows what the test tells it: positions, states and cancels."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}
        self.statuses: dict[str, JobStatus] = {}
        self.cancels: list[tuple[str, str]] = []

    def position_of(self, job_id: str) -> int | None:
        """Return the position the test set, if any."""
        return self.positions.get(job_id)

    def status_of(self, job_id: str) -> JobStatus | None:
        """Return the state the test set, if any."""
        return self.statuses.get(job_id)

    async def cancel(self, job_id: str, reason: str) -> bool:
        """Record the cancel and report the job as still unfinished."""
        self.cancels.append((job_id, reason))
        return True


@pytest.fixture
def scheduler() -> ScriptedScheduler:
    """Return a scheduler that knows nothing yet."""
    return ScriptedScheduler()


@pytest.fixture
def handle(scheduler: ScriptedScheduler) -> JobHandle:
    """Return the handle of a pending job on the scheduler."""
    return JobHandle(JobRecord(id="job1", owner="A", request=REQUEST), scheduler)


def result_for(handle: JobHandle) -> JobResult:
    """Return a one-image result for the handle's job."""
    return JobResult(handle.record, [Image.new("RGB", (32, 32), "red")], (), 0.5)


async def events_of(handle: JobHandle) -> list[JobEvent]:
    """Return the events a subscriber sees, failing if they never end."""
    async with asyncio.timeout(5):
        return [event async for event in handle.events()]


async def result_of(handle: JobHandle) -> JobResult:
    """Return the handle's result, failing if it never comes."""
    async with asyncio.timeout(5):
        return await handle.result()


async def kinds_of(handle: JobHandle) -> list[EventKind]:
    """Return the kinds of the events a subscriber sees, failing if they never end."""
    return [event.kind for event in await events_of(handle)]


async def test_a_late_subscriber_sees_every_event_from_the_first(handle: JobHandle) -> None:
    """Replay the whole history, in order (the latest place in line), to a late subscriber."""
    handle.publish(JobEvent("queued", position=2))
    handle.publish(JobEvent("queued", position=1))
    handle.publish(JobEvent("started"))
    handle.succeed(result_for(handle))
    assert [(event.kind, event.position) for event in await events_of(handle)] == [
        ("queued", 1),
        ("started", None),
        ("done", None),
    ]


async def test_a_new_place_in_line_replaces_the_last_one(handle: JobHandle) -> None:
    """Keep one "queued" event however often the place changes, so history stays small."""
    for position in range(1000, 0, -1):
        handle.publish(JobEvent("queued", position=position))
    assert handle.latest == JobEvent("queued", position=1)
    handle.succeed(result_for(handle))
    assert [event.kind for event in await events_of(handle)] == ["queued", "done"]


async def test_a_subscriber_that_saw_a_place_is_told_the_new_one(handle: JobHandle) -> None:
    """Yield the replacing place in line to a subscriber that already saw the old one."""
    handle.publish(JobEvent("queued", position=5))
    seen: list[int | None] = []

    async def follow() -> None:
        async for event in handle.events():
            seen.append(event.position)

    subscriber = asyncio.create_task(follow())
    await asyncio.sleep(0)
    handle.publish(JobEvent("queued", position=3))
    await asyncio.sleep(0)
    handle.fail("stopped")
    await subscriber
    assert seen == [5, 3, None]


async def test_a_waiting_subscriber_is_woken_by_each_new_event(handle: JobHandle) -> None:
    """Deliver events published after subscribing, and end after the final one."""
    handle.publish(JobEvent("queued", position=1))
    subscriber = asyncio.create_task(kinds_of(handle))
    await asyncio.sleep(0)
    handle.publish(JobEvent("started"))
    await asyncio.sleep(0)
    handle.fail("the engine broke")
    assert await subscriber == ["queued", "started", "failed"]


async def test_every_subscriber_sees_the_same_events(handle: JobHandle) -> None:
    """Give two concurrent subscribers each the whole story, not a share of it."""
    subscribers = [asyncio.create_task(kinds_of(handle)) for _ in range(2)]
    await asyncio.sleep(0)
    handle.publish(JobEvent("started"))
    handle.mark_canceled("canceled by a moderator")
    assert await asyncio.gather(*subscribers) == [["started", "canceled"]] * 2


async def test_result_returns_the_delivered_result(handle: JobHandle) -> None:
    """Wait for the job to finish and return the result it finished with."""
    expected = result_for(handle)
    waiter = asyncio.create_task(handle.result())
    await asyncio.sleep(0)
    assert not waiter.done()
    handle.succeed(expected)
    async with asyncio.timeout(5):
        assert await waiter is expected


async def test_result_raises_job_failed_error_with_the_message(handle: JobHandle) -> None:
    """Raise JobFailedError carrying the message the owner is given."""
    handle.fail("it took longer than this server's limit of 600 s.")
    with pytest.raises(JobFailedError, match=r"^it took longer than this server's limit"):
        await result_of(handle)
    assert handle.latest == JobEvent(
        "failed", message="it took longer than this server's limit of 600 s."
    )


async def test_result_raises_job_canceled_error_with_the_message(handle: JobHandle) -> None:
    """Raise JobCanceledError carrying the reason the job was canceled."""
    handle.mark_canceled("canceled by a moderator")
    with pytest.raises(JobCanceledError, match=r"^canceled by a moderator$"):
        await result_of(handle)


async def test_events_after_the_final_one_are_ignored(handle: JobHandle) -> None:
    """Drop anything published once the job has finished."""
    handle.succeed(result_for(handle))
    handle.publish(JobEvent("started"))
    handle.publish(JobEvent("queued", position=1))
    assert await kinds_of(handle) == ["done"]
    assert handle.latest == JobEvent("done")


async def test_a_second_finish_keeps_the_first_outcome(handle: JobHandle) -> None:
    """Keep the result of the first finish when the job is failed or canceled after it."""
    expected = result_for(handle)
    handle.succeed(expected)
    handle.fail("too late to fail")
    handle.mark_canceled("too late to cancel")
    assert await result_of(handle) is expected
    assert await kinds_of(handle) == ["done"]


def test_status_comes_from_the_scheduler_while_the_job_is_unfinished(
    handle: JobHandle, scheduler: ScriptedScheduler
) -> None:
    """Report the state the scheduler holds for an unfinished job."""
    scheduler.statuses["job1"] = "running"
    assert handle.status == "running"


def test_status_falls_back_to_the_record_when_the_scheduler_forgot_the_job(
    scheduler: ScriptedScheduler,
) -> None:
    """Report the stored state once the scheduler no longer tracks the job."""
    record = JobRecord(id="old", owner="A", request=REQUEST, status="running", attempts=1)
    assert JobHandle(record, scheduler).status == "running"


def test_status_is_the_final_event_once_the_job_has_ended(
    handle: JobHandle, scheduler: ScriptedScheduler
) -> None:
    """Report how the job ended, whatever the scheduler still says."""
    scheduler.statuses["job1"] = "running"
    handle.fail("the engine broke")
    assert handle.status == "failed"


def test_position_comes_from_the_scheduler(handle: JobHandle, scheduler: ScriptedScheduler) -> None:
    """Report the scheduler's place in line, and None once the job is not waiting."""
    scheduler.positions["job1"] = 3
    assert handle.position == 3
    del scheduler.positions["job1"]
    assert handle.position is None


async def test_cancel_asks_the_scheduler_with_the_reason(
    handle: JobHandle, scheduler: ScriptedScheduler
) -> None:
    """Pass the cancel and its reason to the scheduler and return its answer."""
    assert await handle.cancel("a moderator removed it")
    assert scheduler.cancels == [("job1", "a moderator removed it")]
