"""Settling jobs (store first, then the owner) and running batches on the real tiny engine."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image, ImageColor

from pipeline.jobs import job_cost
from tests.pipeline.worker_doubles import (
    Board,
    MemoryJobStore,
    event_kinds,
    finish,
    hold_inside,
    progress_events,
    result_of,
    result_with_colours,
    small,
    track,
    witnessed,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from pipeline.engine import Engine, Progress
    from pipeline.pace import PaceEstimator
    from pipeline.worker import EngineWorker, Settlement
    from tests.pipeline.faulty_engine import FaultyEngine


# Settlement -------------------------------------------------------------------------------


async def test_start_stores_the_attempt_before_announcing_it(
    settlement: Settlement, board: Board, store: MemoryJobStore, tiny_engine: Engine
) -> None:
    """Count the attempt in the store, then tell the owner the job started."""
    job = await track(board, small(tiny_engine, "red"), "j1")
    await settlement.start(job)
    assert witnessed(job) == [("started", "running")]
    assert store.records["j1"].attempts == job.attempts == 1


async def test_succeed_saves_each_image_as_a_png_in_the_jobs_folder(
    settlement: Settlement, board: Board, tiny_engine: Engine, tmp_path: Path
) -> None:
    """Save the images as 1.png, 2.png ... under the job's id, pixel for pixel."""
    job = await track(board, small(tiny_engine, "red", images=2), "j1")
    await settlement.succeed(job, result_with_colours(job.record.request, "red", "blue"))
    result = await result_of(job.handle)
    folder = tmp_path / "outputs" / "j1"
    assert result.paths == (folder / "1.png", folder / "2.png")
    for path, colour in zip(result.paths, ("red", "blue"), strict=True):
        with Image.open(path) as saved:
            assert saved.format == "PNG"
            assert saved.convert("RGB").getpixel((0, 0)) == ImageColor.getrgb(colour)


async def test_succeed_stores_done_with_the_files_before_the_owner_hears(
    settlement: Settlement, board: Board, store: MemoryJobStore, tiny_engine: Engine
) -> None:
    """Record the job done with its files, then deliver the result."""
    job = await track(board, small(tiny_engine, "red"), "j1")
    await settlement.start(job)
    await settlement.succeed(job, result_with_colours(job.record.request, "red"))
    assert witnessed(job)[-1] == ("done", "done")
    result = await result_of(job.handle)
    assert store.records["j1"].outputs == result.paths
    assert len(result.paths) == 1
    assert (result.job.status, result.job.attempts) == ("done", 1)


async def test_fail_stores_the_reason_before_the_owner_hears(
    settlement: Settlement, board: Board, store: MemoryJobStore, tiny_engine: Engine
) -> None:
    """Record the failure and its reason, then tell the owner the same reason."""
    job = await track(board, small(tiny_engine, "red"), "j1")
    await settlement.fail(job, "the engine broke.")
    assert witnessed(job) == [("failed", "failed")]
    assert store.records["j1"].error == "the engine broke."
    assert job.handle.latest is not None
    assert job.handle.latest.message == "the engine broke."


async def test_a_store_that_cannot_write_leaves_the_owner_untold(
    settlement: Settlement, board: Board, store: MemoryJobStore, tiny_engine: Engine
) -> None:
    """Tell the owner nothing when the store could not record the outcome."""
    job = await track(board, small(tiny_engine, "red"), "j1")
    store.failing = {"mark_done"}
    with pytest.raises(OSError, match="mark_done"):
        await settlement.succeed(job, result_with_colours(job.record.request, "red"))
    assert witnessed(job) == []
    assert job.handle.latest is None


@pytest.mark.parametrize("outcome", ["succeed", "fail"])
async def test_a_finished_job_is_no_longer_tracked(
    settlement: Settlement,
    board: Board,
    tiny_engine: Engine,
    forgotten: list[str],
    outcome: str,
) -> None:
    """Forget a job once it is done or failed."""
    job = await track(board, small(tiny_engine, "red"), "j1")
    if outcome == "succeed":
        await settlement.succeed(job, result_with_colours(job.record.request, "red"))
    else:
        await settlement.fail(job, "no.")
    assert forgotten == ["j1"]


async def test_put_back_returns_the_job_to_pending_and_keeps_it(
    settlement: Settlement,
    board: Board,
    store: MemoryJobStore,
    tiny_engine: Engine,
    forgotten: list[str],
) -> None:
    """Store an interrupted job as pending again, tell nobody, and keep tracking it."""
    job = await track(board, small(tiny_engine, "red"), "j1")
    await settlement.start(job)
    await settlement.put_back(job)
    assert store.status("j1") == job.status == "pending"
    assert witnessed(job) == [("started", "running")]
    assert forgotten == []


# EngineWorker -----------------------------------------------------------------------------


async def test_a_batch_runs_in_one_call_and_each_job_is_settled(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
) -> None:
    """Run the batch's requests in one engine call and deliver each job its own images."""
    jobs = [
        await track(board, small(faulty.engine, "red", images=2), "j1"),
        await track(board, small(faulty.engine, "blue"), "j2"),
    ]
    await make_worker().run(jobs)
    assert faulty.calls == [[job.record.request for job in jobs]]
    assert [len((await result_of(job.handle)).images) for job in jobs] == [2, 1]
    assert [store.status(job.record.id) for job in jobs] == ["done", "done"]


async def test_a_job_past_the_time_limit_fails_with_the_limit(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
) -> None:
    """Stop a job that runs past job_timeout and fail it, naming the limit."""
    faulty.hold_after_first_step = True
    job = await track(board, small(faulty.engine, "slow", steps=8), "j1")
    running = asyncio.create_task(make_worker(job_timeout=0.6).run([job]))
    await hold_inside(faulty)
    await asyncio.sleep(0.7)  # the deadline has now passed, however loaded the machine
    faulty.release()
    await finish(running)
    message = "it took longer than this server's limit of 1 s."
    assert store.records["j1"].error == message
    assert faulty.last_steps == [1]
    assert job.handle.latest is not None
    assert job.handle.latest.message == message


async def test_a_shutdown_puts_the_running_jobs_back_to_pending(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
    interrupting: threading.Event,
) -> None:
    """Stop the batch at the next step and store its jobs as pending, to run after a restart."""
    faulty.hold_after_first_step = True
    jobs = [
        await track(board, small(faulty.engine, "red", steps=8), "j1"),
        await track(board, small(faulty.engine, "blue", steps=8), "j2"),
    ]
    running = asyncio.create_task(make_worker().run(jobs))
    await hold_inside(faulty)
    interrupting.set()
    faulty.release()
    await finish(running)
    assert faulty.last_steps == [1]
    assert [store.status(job.record.id) for job in jobs] == ["pending", "pending"]
    assert [job.handle.latest and job.handle.latest.is_final for job in jobs] == [False, False]


async def test_a_shutdown_past_the_time_limit_still_puts_the_job_back(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
    interrupting: threading.Event,
) -> None:
    """Keep a job for the restart, not fail it, when a shutdown stops it after its deadline."""
    faulty.hold_after_first_step = True
    job = await track(board, small(faulty.engine, "slow", steps=8), "j1")
    running = asyncio.create_task(make_worker(job_timeout=0.6).run([job]))
    await hold_inside(faulty)
    await asyncio.sleep(0.7)
    interrupting.set()
    faulty.release()
    await finish(running)
    assert store.status("j1") == "pending"
    assert ("mark_failed", "j1") not in store.writes


async def test_a_canceled_job_is_not_settled_again(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
    tmp_path: Path,
) -> None:
    """Leave a job canceled mid-batch as canceled, and finish its neighbour normally."""
    faulty.hold_after_first_step = True
    canceled = await track(board, small(faulty.engine, "red", steps=3), "j1")
    kept = await track(board, small(faulty.engine, "blue", steps=3), "j2")
    running = asyncio.create_task(make_worker().run([canceled, kept]))
    await hold_inside(faulty)
    assert await canceled.handle.cancel()
    faulty.release()
    await finish(running)
    assert [write for write in store.writes if write[1] == "j1"] == [
        ("mark_running", "j1"),
        ("mark_canceled", "j1"),
    ]
    assert not (tmp_path / "outputs" / "j1").exists()
    assert await event_kinds(canceled.handle) == ["started", "progress", "canceled"]
    assert store.status("j2") == "done"


async def test_a_batch_whose_jobs_are_all_canceled_stops_at_the_next_step(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
) -> None:
    """Stop the engine once nobody wants the batch's images."""
    faulty.hold_after_first_step = True
    job = await track(board, small(faulty.engine, "red", steps=8), "j1")
    running = asyncio.create_task(make_worker().run([job]))
    await hold_inside(faulty)
    await job.handle.cancel()
    faulty.release()
    await finish(running)
    assert faulty.last_steps == [1]
    assert store.status("j1") == "canceled"


async def test_an_internal_error_while_settling_fails_the_unsettled_jobs(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
) -> None:
    """Fail every job not yet settled when our own code breaks, each with its reference."""
    store.failing = {"mark_done"}
    jobs = [
        await track(board, small(faulty.engine, "red"), "j1"),
        await track(board, small(faulty.engine, "blue"), "j2"),
    ]
    await make_worker().run(jobs)
    for job in jobs:
        message = f"an internal error stopped it (reference {job.record.id})."
        assert store.records[job.record.id].error == message
        assert await event_kinds(job.handle) == ["started", "progress", "progress", "failed"]


async def test_a_store_that_cannot_record_failures_does_not_break_the_worker(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    store: MemoryJobStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Log a failure that cannot be recorded, and return, rather than raise."""
    store.failing = {"mark_done", "mark_failed"}
    job = await track(board, small(faulty.engine, "red"), "j1")
    with caplog.at_level(logging.ERROR, logger="pipeline.worker"):
        await make_worker().run([job])
    assert "could not record the failure of job j1" in caplog.text
    assert store.status("j1") == "running"


async def test_progress_previews_are_split_per_job(
    make_worker: Callable[..., EngineWorker], faulty: FaultyEngine, board: Board
) -> None:
    """Give each job of a batch every step, with the previews of its own images only."""
    first = await track(board, small(faulty.engine, "red", steps=3, images=2), "j1")
    second = await track(board, small(faulty.engine, "blue", steps=3), "j2")
    await make_worker().run([first, second])
    shares = [await progress_events(job.handle) for job in (first, second)]
    assert [[(p.step, len(p.previews)) for p in share] for share in shares] == [
        [(1, 0), (2, 0), (3, 2)],
        [(1, 0), (2, 0), (3, 1)],
    ]
    alone: list[Progress] = []
    faulty.engine.generate(second.record.request, progress=alone.append)
    preview_in_batch = np.asarray(shares[1][2].previews[0], np.int32)
    preview_alone = np.asarray(alone[2].previews[0], np.int32)
    assert np.abs(preview_in_batch - preview_alone).max() <= 1


async def test_succeeded_jobs_teach_the_pace(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    pace: PaceEstimator,
) -> None:
    """Learn seconds per unit of cost from a batch that succeeded."""
    job = await track(board, small(faulty.engine, "red"), "j1")
    await make_worker().run([job])
    assert pace.seconds_for(job_cost(job.record.request)) is not None


async def test_failed_jobs_do_not_teach_the_pace(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    pace: PaceEstimator,
) -> None:
    """Learn nothing from a batch in which every job failed."""
    faulty.fail_prompts = {"poison"}
    job = await track(board, small(faulty.engine, "poison"), "j1")
    await make_worker().run([job])
    assert pace.seconds_for(1.0) is None


async def test_the_heap_is_trimmed_on_the_engine_thread_after_every_batch(
    make_worker: Callable[..., EngineWorker],
    faulty: FaultyEngine,
    board: Board,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hand the freed heap back after each batch, failed ones too, on the engine's thread."""
    threads: list[str] = []
    monkeypatch.setattr(
        "pipeline.worker.trim_heap", lambda: threads.append(threading.current_thread().name)
    )
    faulty.fail_prompts = {"poison"}
    worker = make_worker()
    await worker.run([await track(board, small(faulty.engine, "red"), "j1")])
    await worker.run([await track(board, small(faulty.engine, "poison"), "j2")])
    assert len(threads) == 2
    assert all(name.startswith("easel-engine-0") for name in threads)
