"""The job scheduler on the real tiny model: fairness, batching, cancel, faults, recovery."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest

from bot.store.jobs import SqliteJobStore
from pipeline.batch_runner import OUT_OF_MEMORY_MESSAGE
from pipeline.config import GenerationSettings, InputImageSettings, QueueSettings
from pipeline.families.base import ModelTraits
from pipeline.jobs import (
    JobCanceledError,
    JobFailedError,
    QueueFullError,
    job_cost,
)
from pipeline.model_pool import ModelResidency
from pipeline.models import ModelCatalog, profile_of
from pipeline.request_builder import RequestBuilder
from pipeline.scheduler import JobScheduler
from tests.pipeline.scheduler_parts import held_running_job
from tests.pipeline.worker_doubles import result_of, result_with_colours

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
    from pathlib import Path

    from bot.store.database import Database
    from pipeline.engine import Engine, GenerationResult, Progress
    from pipeline.request import GenerationRequest
    from tests.pipeline.faulty_engine import FaultyEngine


async def test_a_job_runs_and_its_images_are_saved(
    make_scheduler: Callable[..., Awaitable[JobScheduler]], tiny_engine: Engine, database: Database
) -> None:
    """Deliver four images, saved as PNG files, and record the job as done."""
    scheduler = await make_scheduler()
    handle = await scheduler.submit(tiny_engine.parse("a red circle --seed 3"), "A")
    result = await handle.result()
    assert len(result.images) == 4
    assert len(result.paths) == 4
    assert all(path.exists() and path.suffix == ".png" for path in result.paths)
    stored = await SqliteJobStore(database).get(handle.id)
    assert stored is not None
    assert stored.status == "done"
    assert stored.outputs == result.paths


async def test_events_go_queued_started_progress_done(
    make_scheduler: Callable[..., Awaitable[JobScheduler]], tiny_engine: Engine
) -> None:
    """Tell the owner the position, the start, each step with an ETA, then the result."""
    scheduler = await make_scheduler()
    handle = await scheduler.submit(tiny_engine.parse("a --steps 4"), "A")
    kinds = [event.kind async for event in handle.events()]
    assert kinds[:2] == ["queued", "started"]
    assert kinds.count("progress") == 4
    assert kinds[-1] == "done"


async def test_positions_are_announced_and_move_up(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
) -> None:
    """Give waiting jobs their place in line and move them up when one ahead leaves."""
    scheduler = await make_scheduler()
    await held_running_job(scheduler, faulty, tiny_engine)
    waiting = [await scheduler.submit(tiny_engine.parse(f"job {i}"), "A") for i in range(3)]
    assert [handle.position for handle in waiting] == [1, 2, 3]
    await waiting[0].cancel()
    assert [handle.position for handle in waiting[1:]] == [1, 2]
    assert waiting[2].latest is not None
    assert waiting[2].latest.position == 2


async def test_a_new_owner_starts_after_at_most_one_more_of_a_busy_owners_jobs(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
) -> None:
    """Put B's single job second in line behind A's queued jobs."""
    scheduler = await make_scheduler(max_jobs_per_user=20, max_batch_images=4)
    await held_running_job(scheduler, faulty, tiny_engine, owner="A")
    for index in range(10):
        await scheduler.submit(tiny_engine.parse(f"a's job {index}"), "A")
    late = await scheduler.submit(tiny_engine.parse("b's job"), "B")
    assert late.position is not None
    assert late.position <= 2


async def test_the_per_owner_cap_refuses_with_the_count_and_a_retry_hint(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
) -> None:
    """Refuse an owner's job over the cap, saying how many they have and when to retry."""
    scheduler = await make_scheduler(max_jobs_per_user=3)
    await held_running_job(scheduler, faulty, tiny_engine)
    for index in range(2):
        await scheduler.submit(tiny_engine.parse(f"job {index}"), "A")
    with pytest.raises(QueueFullError, match=r"already have 3 jobs.*Try again"):
        await scheduler.submit(tiny_engine.parse("one too many"), "A")
    assert (await scheduler.submit(tiny_engine.parse("someone else"), "B")).position is not None


async def test_the_global_bound_refuses_when_the_queue_is_full(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
) -> None:
    """Refuse anyone's job once the queue holds max_pending jobs."""
    scheduler = await make_scheduler(max_pending=2)
    await held_running_job(scheduler, faulty, tiny_engine)
    await scheduler.submit(tiny_engine.parse("b"), "B")
    await scheduler.submit(tiny_engine.parse("c"), "C")
    with pytest.raises(QueueFullError, match="queue is full: 2 jobs"):
        await scheduler.submit(tiny_engine.parse("d"), "D")


async def test_canceling_a_waiting_job_removes_it_at_once(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
    database: Database,
) -> None:
    """Remove a waiting job, record it canceled, and tell its owner."""
    scheduler = await make_scheduler()
    await held_running_job(scheduler, faulty, tiny_engine)
    waiting = await scheduler.submit(tiny_engine.parse("never mind"), "A")
    assert await waiting.cancel()
    with pytest.raises(JobCanceledError, match="canceled by its owner"):
        await waiting.result()
    assert scheduler.waiting == 0
    stored = await SqliteJobStore(database).get(waiting.id)
    assert stored is not None
    assert stored.status == "canceled"


async def test_canceling_a_running_job_stops_it_at_the_next_step(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
    database: Database,
) -> None:
    """Tell the owner at once and stop the engine at the next step end."""
    scheduler = await make_scheduler()
    running = await held_running_job(scheduler, faulty, tiny_engine)
    assert await running.cancel()
    assert running.status == "canceled"
    faulty.release()
    follower = await scheduler.submit(tiny_engine.parse("next --seed 1"), "B")
    await follower.result()
    assert faulty.last_steps[0] <= 2
    stored = await SqliteJobStore(database).get(running.id)
    assert stored is not None
    assert stored.status == "canceled"


async def test_a_job_over_the_time_limit_fails_with_the_limit(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
) -> None:
    """Stop a job that runs past job_timeout and say so."""
    scheduler = await make_scheduler(job_timeout=0.2)
    running = await held_running_job(scheduler, faulty, tiny_engine)
    await asyncio.sleep(0.3)
    faulty.release()
    with pytest.raises(JobFailedError, match="longer than this server's limit"):
        await running.result()


async def test_out_of_memory_retries_with_the_batch_split(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
) -> None:
    """Retry an OOM batch one image at a time and deliver the very same images."""
    faulty.oom_above_images = 1
    scheduler = await make_scheduler()
    request = tiny_engine.parse("a red circle --seed 8")
    result = await (await scheduler.submit(request, "A")).result()
    expected = tiny_engine.generate(request)
    for got, want in zip(result.images, expected.images, strict=True):
        assert np.abs(np.asarray(got, int) - np.asarray(want, int)).max() <= 1
    assert [len(call) for call in faulty.calls] == [1, 1, 1, 1, 1]


async def test_out_of_memory_even_alone_fails_clearly_and_the_next_job_runs(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
) -> None:
    """Fail a job that runs out of memory even per image, then run the next one normally."""
    faulty.oom_above_images = 0
    scheduler = await make_scheduler()
    doomed = await scheduler.submit(tiny_engine.parse("too big"), "A")
    with pytest.raises(JobFailedError, match="ran out of memory"):
        await doomed.result()
    assert OUT_OF_MEMORY_MESSAGE.startswith("the GPU ran out of memory")
    faulty.oom_above_images = None
    assert len((await (await scheduler.submit(tiny_engine.parse("fine"), "A")).result()).images)


async def test_an_engine_error_fails_only_that_job(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
) -> None:
    """Isolate a failing job from the job batched with it."""
    faulty.fail_prompts = {"poison"}
    scheduler = await make_scheduler(gather_ms=200)
    bad, good = await asyncio.gather(
        scheduler.submit(tiny_engine.parse("poison"), "A"),
        scheduler.submit(tiny_engine.parse("fine"), "B"),
    )
    with pytest.raises(JobFailedError, match="reference"):
        await bad.result()
    assert len((await good.result()).images) == 4
    assert len(faulty.calls[0]) == 2


async def test_batched_jobs_equal_the_same_jobs_run_alone(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    tiny_engine: Engine,
) -> None:
    """Merge concurrent compatible jobs into one call with each job's own images."""
    scheduler = await make_scheduler(gather_ms=200)
    requests = [tiny_engine.parse("a red circle --seed 1"), tiny_engine.parse("blue --seed 50")]
    owners = ["A", "B"]
    handles = await asyncio.gather(
        *(scheduler.submit(r, o) for r, o in zip(requests, owners, strict=True))
    )
    results = [await handle.result() for handle in handles]
    assert [len(call) for call in faulty.calls] == [2]
    for request, result in zip(requests, results, strict=True):
        alone = tiny_engine.generate(request)
        for got, want in zip(result.images, alone.images, strict=True):
            assert np.abs(np.asarray(got, int) - np.asarray(want, int)).max() <= 1


# Several models ------------------------------------------------------------------------------


class ResidentEngine:
    """An engine double with the model warm loaded; it holds its first call until released."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []  # the prompts of each call
        self.models: list[set[str]] = []  # the models of each call
        self.entered = threading.Event()
        self.released = threading.Event()

    def has_loaded(self, model: str) -> bool:
        """Say that only the model warm is loaded."""
        return model == "warm"

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Note the batch, wait to be released, and answer with flat images."""
        self.calls.append([request.prompt for request in requests])
        self.models.append({request.model for request in requests})
        self.entered.set()
        self.released.wait(20)
        return [result_with_colours(request, "red") for request in requests]


TWO_MODELS = RequestBuilder(
    ModelCatalog(
        [
            profile_of(name, ModelTraits("sd", (64, 64)), None, GenerationSettings())
            for name in ("warm", "cold")
        ],
        "warm",
    ),
    GenerationSettings(),
    InputImageSettings(),
)


def one_image(prompt: str, model: str) -> GenerationRequest:
    """Return a one-image request for a model; requests of one model can share a batch."""
    return replace(TWO_MODELS.parse(f"{prompt} --seed 1 --steps 2", model=model), num_images=1)


@pytest.fixture
async def resident(
    database: Database, tmp_path: Path
) -> AsyncIterator[tuple[ResidentEngine, Callable[..., Awaitable[JobScheduler]]]]:
    """Start schedulers on a resident-model engine double; release and shut them down after."""
    engine = ResidentEngine()
    assert isinstance(engine, ModelResidency)
    started: list[JobScheduler] = []

    async def make(max_batch_images: int) -> JobScheduler:
        settings = QueueSettings(
            max_batch_images=max_batch_images, max_jobs_per_user=10, shutdown_grace=0.2
        )
        scheduler = JobScheduler(
            [engine],
            SqliteJobStore(database),
            settings,
            output_dir=tmp_path / "outputs",
            quantum=job_cost(one_image("x", "warm")),
        )
        await scheduler.start()
        started.append(scheduler)
        return scheduler

    yield engine, make
    engine.released.set()
    for scheduler in started:
        await scheduler.shutdown()


async def submit_while_held(
    scheduler: JobScheduler, engine: ResidentEngine, jobs: list[tuple[str, str, str]]
) -> None:
    """Run a held job, queue (owner, prompt, model) jobs behind it, release it, await them all."""
    await scheduler.submit(one_image("held", "warm"), "Z")
    await asyncio.to_thread(engine.entered.wait, 20)
    handles = [
        await scheduler.submit(one_image(prompt, model), owner) for owner, prompt, model in jobs
    ]
    engine.released.set()
    for handle in handles:
        await result_of(handle)


async def test_jobs_of_two_models_never_share_a_batch(
    resident: tuple[ResidentEngine, Callable[..., Awaitable[JobScheduler]]],
) -> None:
    """Batch jobs of one model together and never with another model's jobs."""
    engine, make = resident
    jobs = [("A", "a", "warm"), ("B", "b", "cold"), ("C", "c", "warm"), ("D", "d", "cold")]
    await submit_while_held(await make(max_batch_images=8), engine, jobs)
    assert engine.calls == [["held"], ["a", "c"], ["b", "d"]]
    assert all(len(models) == 1 for models in engine.models)


async def test_the_loaded_models_job_starts_first_among_equally_due_ones(
    resident: tuple[ResidentEngine, Callable[..., Awaitable[JobScheduler]]],
) -> None:
    """Start the warm model's job before a cold one queued just ahead of it."""
    engine, make = resident
    jobs = [("B", "cold one", "cold"), ("C", "warm one", "warm")]
    await submit_while_held(await make(max_batch_images=1), engine, jobs)
    assert engine.calls == [["held"], ["warm one"], ["cold one"]]


async def test_a_cold_models_job_is_delayed_one_batch_at_most(
    resident: tuple[ResidentEngine, Callable[..., Awaitable[JobScheduler]]],
) -> None:
    """Start a cold job at most one batch after its fair turn, amid a stream of warm jobs."""
    engine, make = resident
    warm = [(owner, f"{owner}{index}", "warm") for index in (1, 2) for owner in ("V", "W", "X")]
    await submit_while_held(await make(max_batch_images=1), engine, [*warm, ("U", "u", "cold")])
    order = [prompt for (prompt,) in engine.calls]
    # Fair turns: held, V1, W1, X1, u, V2, ...; V2 may go ahead of u, once.
    assert order == ["held", "V1", "W1", "X1", "V2", "u", "W2", "X2"]
