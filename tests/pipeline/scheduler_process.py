"""A process running the real scheduler on SQLite, for the kill -9 crash-recovery test.

``python -m tests.pipeline.scheduler_process --db D --model M --outputs O [--submit N]`` recovers
what the database holds, optionally submits N jobs, and reports each step on stdout:
``accepted ID`` once a submission is committed, ``drawing ID`` at a job's first step, then
``done ID`` or ``failed ID MESSAGE``. It exits when every job it knows of has finished.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from bot.store.database import Database
from bot.store.jobs import SqliteJobStore
from pipeline.config import PipelineConfig, QueueSettings
from pipeline.engine import Engine
from pipeline.jobs import JobFailedError, job_cost
from pipeline.scheduler import JobScheduler

if TYPE_CHECKING:
    from pipeline.handles import JobHandle


def say(line: str) -> None:
    """Print one report line at once, for the test reading our stdout."""
    print(line, flush=True)  # noqa: T201 - stdout is this program's interface


async def follow(handle: JobHandle) -> None:
    """Report a job's first step and its end."""
    async for event in handle.events():
        if event.kind == "progress" and event.progress and event.progress.step == 1:
            say(f"drawing {handle.id}")
    try:
        await handle.result()
        say(f"done {handle.id}")
    except JobFailedError as error:
        say(f"failed {handle.id} {error}")


async def main(arguments: argparse.Namespace) -> None:
    """Recover, submit, and follow every job to its end."""
    config = PipelineConfig.model_validate(
        {
            "model": {"path": arguments.model, "device": "cpu", "cpu_threads": 1},
            "generation": {"max_steps": 500},
        }
    )
    engine = Engine.from_config(config)
    database = await Database.open(Path(arguments.db))
    try:
        scheduler = JobScheduler(
            [engine],
            SqliteJobStore(database),
            QueueSettings(gather_ms=0, max_batch_images=4),
            output_dir=Path(arguments.outputs),
            quantum=job_cost(engine.parse("x")),
        )
        handles = await scheduler.start()
        for handle in handles:
            say(f"recovered {handle.id}")
        followers = [asyncio.create_task(follow(handle)) for handle in handles]
        for index in range(arguments.submit):
            steps = arguments.first_steps if index == 0 else 4
            request = engine.parse(f"job {index} --steps {steps} --seed {index}")
            handle = await scheduler.submit(request, f"user{index % 2}")
            say(f"accepted {handle.id}")
            followers.append(asyncio.create_task(follow(handle)))
        await asyncio.gather(*followers)
        await scheduler.shutdown()
    finally:
        await database.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--outputs", required=True)
    parser.add_argument("--submit", type=int, default=0)
    parser.add_argument("--first-steps", type=int, default=4, help="steps of the first job")
    asyncio.run(main(parser.parse_args()))
