"""The worker when the host fails it: a broken GPU (rebuilt, then retried) and a full disk."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import numpy as np

from pipeline.batch_runner import INTERNAL_ERROR_MESSAGE
from pipeline.worker import DISK_FULL_MESSAGE, GPU_FAILURE_MESSAGE
from tests.pipeline.disk_faults import fill_disk_on_save
from tests.pipeline.worker_doubles import (
    event_kinds,
    result_of,
    result_with_colours,
    small,
    track,
    witnessed,
)

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from pathlib import Path

    import pytest

    from pipeline.batch_runner import BatchEngine
    from pipeline.engine import Engine
    from pipeline.worker import EngineWorker, Settlement
    from tests.pipeline.faulty_engine import FaultyEngine, Reloader
    from tests.pipeline.worker_doubles import Board, MemoryJobStore


def files_under(folder: Path) -> list[Path]:
    """Return every file below ``folder``, hidden ones included."""
    return sorted(path for path in folder.rglob("*") if path.is_file())


# A broken GPU -----------------------------------------------------------------------------


async def test_a_cuda_error_rebuilds_the_engine_and_the_job_gets_unbroken_pixels(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    reloader: Reloader,
    board: Board,
    tiny_engine: Engine,
) -> None:
    """Reload the model once after a CUDA error and deliver the images of an unbroken run."""
    faulty.cuda_error_calls = 1
    job = await track(board, small(tiny_engine, "red", images=2), "j1")
    await make_worker(rebuild_engine=reloader).run([job])
    result = await result_of(job.handle)
    assert reloader.indices == [0]
    assert faulty.engine is not tiny_engine  # it ran on the freshly loaded model
    unbroken = tiny_engine.generate(job.record.request)
    for got, want in zip(result.images, unbroken.images, strict=True):
        assert np.abs(np.asarray(got, int) - np.asarray(want, int)).max() <= 1


async def test_a_retried_job_counts_each_attempt_and_starts_again(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    reloader: Reloader,
    board: Board,
    store: MemoryJobStore,
) -> None:
    """Store the second attempt and tell the owner the job started again."""
    faulty.cuda_error_calls = 1
    job = await track(board, small(faulty.engine, "red"), "j1")
    await make_worker(rebuild_engine=reloader).run([job])
    assert store.records["j1"].attempts == 2
    assert await event_kinds(job.handle) == ["started", "started", "progress", "progress", "done"]


async def test_the_engine_is_rebuilt_on_its_own_thread(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    reloader: Reloader,
    board: Board,
) -> None:
    """Load the new engine on the engine's thread, never on the event loop's."""
    faulty.cuda_error_calls = 1
    job = await track(board, small(faulty.engine, "red"), "j1")
    await make_worker(rebuild_engine=reloader).run([job])
    (thread,) = reloader.threads
    assert thread.startswith("easel-engine-0")


async def test_a_persistent_cuda_error_fails_the_job_after_max_attempts(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    reloader: Reloader,
    board: Board,
    store: MemoryJobStore,
) -> None:
    """Fail a job the GPU breaks on every attempt, saying so, after max_attempts calls."""
    faulty.cuda_error_calls = 100
    job = await track(board, small(faulty.engine, "red"), "j1")
    await make_worker(max_attempts=3, rebuild_engine=reloader).run([job])
    message = GPU_FAILURE_MESSAGE.format(times="3 times")
    assert (store.status("j1"), store.records["j1"].error) == ("failed", message)
    assert witnessed(job)[-1] == ("failed", "failed")
    assert len(faulty.calls) == 3


async def test_after_the_last_attempt_the_engine_is_rebuilt_for_the_next_batch(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    reloader: Reloader,
    board: Board,
    store: MemoryJobStore,
) -> None:
    """Rebuild after every fault, so the next batch runs on a sound engine."""
    faulty.cuda_error_calls = 2
    worker = make_worker(max_attempts=2, rebuild_engine=reloader)
    await worker.run([await track(board, small(faulty.engine, "red"), "j1")])
    await worker.run([await track(board, small(faulty.engine, "blue"), "j2")])
    assert reloader.indices == [0, 0]
    assert (store.status("j1"), store.status("j2")) == ("failed", "done")


async def test_without_a_rebuild_a_cuda_error_fails_the_jobs_as_before(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
) -> None:
    """Fail every job of the batch with the internal-error message, retrying nothing."""
    faulty.cuda_error_calls = 1
    jobs = [
        await track(board, small(faulty.engine, "red"), "j1"),
        await track(board, small(faulty.engine, "blue"), "j2"),
    ]
    await make_worker().run(jobs)
    message = INTERNAL_ERROR_MESSAGE.format(reference="j1")
    assert [store.records[job.record.id].error for job in jobs] == [message, message]
    assert len(faulty.calls) == 1


async def test_an_engine_that_cannot_be_rebuilt_is_rebuilt_on_the_next_batch(
    make_worker: Callable[..., EngineWorker],
    reloader: Reloader,
    board: Board,
    store: MemoryJobStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Log a reload that fails, fail the job within its attempts, and reload on the next batch."""
    reloader.faulty.cuda_error_calls = 1
    reloader.failures = 1
    worker = make_worker(max_attempts=2, rebuild_engine=reloader)
    with caplog.at_level(logging.CRITICAL, logger="pipeline.worker"):
        await worker.run([await track(board, small(reloader.faulty.engine, "red"), "j1")])
    assert "could not rebuild engine 0" in caplog.text
    assert store.records["j1"].error == GPU_FAILURE_MESSAGE.format(times="twice")
    await worker.run([await track(board, small(reloader.faulty.engine, "blue"), "j2")])
    assert store.status("j2") == "done"
    assert len(reloader.indices) == 2


async def test_a_shutdown_during_the_rebuild_puts_the_jobs_back(
    make_worker: Callable[..., EngineWorker],
    reloader: Reloader,
    board: Board,
    store: MemoryJobStore,
    interrupting: threading.Event,
) -> None:
    """Keep the jobs pending for the restart rather than retry them while shutting down."""

    def rebuild_as_the_bot_stops(index: int) -> BatchEngine:
        interrupting.set()
        return reloader(index)

    reloader.faulty.cuda_error_calls = 1
    job = await track(board, small(reloader.faulty.engine, "red"), "j1")
    await make_worker(rebuild_engine=rebuild_as_the_bot_stops).run([job])
    assert store.status("j1") == "pending"
    assert len(reloader.faulty.calls) == 1


async def test_a_job_canceled_during_the_rebuild_is_not_retried(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    reloader: Reloader,
    board: Board,
    store: MemoryJobStore,
) -> None:
    """Leave a job its owner canceled while the engine reloaded as canceled."""
    loop = asyncio.get_running_loop()
    job = await track(board, small(faulty.engine, "red"), "j1")

    def rebuild_while_the_owner_cancels(index: int) -> BatchEngine:
        asyncio.run_coroutine_threadsafe(job.handle.cancel(), loop).result(timeout=5)
        return reloader(index)

    faulty.cuda_error_calls = 1
    await make_worker(rebuild_engine=rebuild_while_the_owner_cancels).run([job])
    assert store.status("j1") == "canceled"
    assert len(faulty.calls) == 1


# A full disk ------------------------------------------------------------------------------


async def test_a_full_disk_while_saving_fails_the_job_with_a_clear_message(
    settlement: Settlement,
    board: Board,
    store: MemoryJobStore,
    tiny_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Record the job failed because the disk is full, then tell its owner the same."""
    job = await track(board, small(tiny_engine, "red", images=2), "j1")
    fill_disk_on_save(monkeypatch, after=1)
    await settlement.succeed(job, result_with_colours(job.record.request, "red", "blue"))
    assert (store.status("j1"), store.records["j1"].error) == ("failed", DISK_FULL_MESSAGE)
    assert witnessed(job) == [("failed", "failed")]


async def test_a_full_disk_while_saving_leaves_no_file_behind(
    settlement: Settlement,
    board: Board,
    tiny_engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Remove the cut-off PNG and the image saved before it."""
    job = await track(board, small(tiny_engine, "red", images=2), "j1")
    fill_disk_on_save(monkeypatch, after=1)
    await settlement.succeed(job, result_with_colours(job.record.request, "red", "blue"))
    assert files_under(tmp_path / "outputs") == []


async def test_after_a_full_disk_the_worker_runs_the_next_job(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fail only the job that could not be saved; save the next once space is back."""
    fill_disk_on_save(monkeypatch)
    worker = make_worker()
    await worker.run([await track(board, small(faulty.engine, "red"), "j1")])
    await worker.run([await track(board, small(faulty.engine, "blue"), "j2")])
    assert (store.status("j1"), store.status("j2")) == ("failed", "done")
    assert all(path.is_file() for path in store.records["j2"].outputs)


async def test_a_store_too_full_to_record_done_fails_the_job_and_removes_its_images(
    settlement: Settlement,
    board: Board,
    store: MemoryJobStore,
    tiny_engine: Engine,
    tmp_path: Path,
) -> None:
    """Fail the job with the disk message when SQLite is full, leaving no orphan images."""
    job = await track(board, small(tiny_engine, "red"), "j1")
    store.disk_full = {"mark_done"}
    await settlement.succeed(job, result_with_colours(job.record.request, "red"))
    assert (store.status("j1"), store.records["j1"].error) == ("failed", DISK_FULL_MESSAGE)
    assert witnessed(job) == [("failed", "failed")]
    assert files_under(tmp_path / "outputs") == []


async def test_a_store_too_full_for_any_write_leaves_the_worker_up(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
) -> None:
    """Return from a batch whose outcome cannot be stored, and run the next once space is back."""
    store.disk_full = {"mark_done", "mark_failed"}
    worker = make_worker()
    await worker.run([await track(board, small(faulty.engine, "red"), "j1")])
    store.disk_full = set()
    await worker.run([await track(board, small(faulty.engine, "blue"), "j2")])
    assert (store.status("j1"), store.status("j2")) == ("running", "done")
