"""The scheduler on the real tiny model and SQLite when the host fails: GPU faults, a full disk."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from bot.store.jobs import SqliteJobStore
from pipeline.jobs import JobFailedError
from pipeline.worker import DISK_FULL_MESSAGE, GPU_FAILURE_MESSAGE
from tests.pipeline.disk_faults import fill_disk_on_save

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.store.database import Database
    from pipeline.engine import Engine
    from pipeline.scheduler import JobScheduler
    from tests.pipeline.faulty_engine import FaultyEngine, Reloader


async def test_a_cuda_error_rebuilds_the_engine_once_and_the_job_succeeds_unchanged(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    reloader: Reloader,
    tiny_engine: Engine,
) -> None:
    """Reload the model after a CUDA error and deliver the images of an unbroken run."""
    faulty.cuda_error_calls = 1
    scheduler = await make_scheduler(rebuild_engine=reloader)
    request = tiny_engine.parse("a red circle --seed 8")
    result = await (await scheduler.submit(request, "A")).result()
    assert faulty.rebuilds == 1
    assert result.job.attempts == 2
    for got, want in zip(result.images, tiny_engine.generate(request).images, strict=True):
        assert np.abs(np.asarray(got, int) - np.asarray(want, int)).max() <= 1


async def test_a_persistent_cuda_error_fails_the_job_and_the_next_one_runs(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    reloader: Reloader,
    tiny_engine: Engine,
    database: Database,
) -> None:
    """Fail a job the GPU breaks on each of max_attempts, then run the job waiting behind it."""
    faulty.cuda_error_calls = 2
    scheduler = await make_scheduler(rebuild_engine=reloader, max_attempts=2, max_batch_images=4)
    doomed = await scheduler.submit(tiny_engine.parse("first"), "A")
    behind = await scheduler.submit(tiny_engine.parse("second"), "B")
    message = GPU_FAILURE_MESSAGE.format(times="twice")
    with pytest.raises(JobFailedError) as failed:
        await doomed.result()
    assert str(failed.value) == message
    assert len((await behind.result()).images) == 4
    stored = await SqliteJobStore(database).get(doomed.id)
    assert stored is not None
    assert (stored.status, stored.error, stored.attempts) == ("failed", message, 2)


async def test_out_of_memory_still_splits_and_never_rebuilds(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    faulty: FaultyEngine,
    reloader: Reloader,
    tiny_engine: Engine,
) -> None:
    """Retry an out-of-memory batch image by image, with the engine kept as it is."""
    faulty.oom_above_images = 1
    scheduler = await make_scheduler(rebuild_engine=reloader)
    result = await (await scheduler.submit(tiny_engine.parse("big --seed 8"), "A")).result()
    assert len(result.images) == 4
    assert [len(call) for call in faulty.calls] == [1, 1, 1, 1, 1]
    assert reloader.indices == []


async def test_a_full_disk_fails_the_job_clearly_and_the_next_one_is_saved(
    make_scheduler: Callable[..., Awaitable[JobScheduler]],
    tiny_engine: Engine,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fail only the job whose images hit a full disk, stored and told why; then go on."""
    scheduler = await make_scheduler()
    fill_disk_on_save(monkeypatch, after=2)
    unlucky = await scheduler.submit(tiny_engine.parse("unlucky"), "A")
    with pytest.raises(JobFailedError) as failed:
        await unlucky.result()
    assert str(failed.value) == DISK_FULL_MESSAGE
    result = await (await scheduler.submit(tiny_engine.parse("lucky"), "A")).result()
    assert all(path.is_file() for path in result.paths)
    stored = await SqliteJobStore(database).get(unlucky.id)
    assert stored is not None
    assert (stored.status, stored.outputs) == ("failed", ())
