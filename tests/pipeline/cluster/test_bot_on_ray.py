"""The whole bot with cluster.backend: ray: a replica lost mid-job, a restart that re-attaches."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.app import load_engines
from tests.bot.harness import bot_config, eventually, is_result, running_easel
from tests.pipeline.cluster.ray_parts import RAY_CLUSTER, ray_engine, replica_pids

if TYPE_CHECKING:
    from bot.app import EaselApp
    from bot.config import BotConfig
    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import MessageRecord

LONG = 180  # a lost replica is replaced in 4-30 s, and then draws the batch again


def results(emulator: DiscordEmulator) -> list[MessageRecord]:
    """Return every message that shows a finished job."""
    return [m for m in emulator.messages if is_result(m) and not m.deleted]


@pytest.fixture
def config(tmp_path: Path, ray_config: BotConfig) -> BotConfig:
    """Return this test's bot config: its own data, the session's model and cluster."""
    return bot_config(tmp_path, Path(ray_config.default_model.path), cluster=RAY_CLUSTER)


def job_of(message: MessageRecord) -> str:
    """Return the job id a result's buttons carry."""
    return message.custom_ids()[0].split(":")[2]


async def drawing(easel: EaselApp, jobs: int) -> object:
    """Return True once the workers have this many jobs on replicas, else None."""
    return True if easel.scheduler.running >= jobs else None


async def test_a_replica_killed_mid_job_loses_no_job_and_posts_each_grid_once(
    emulator: DiscordEmulator,
    served: dict[str, Any],
    ray_config: BotConfig,
    tiny_engine: Engine,
    config: BotConfig,
) -> None:
    """Kill the process of a replica drawing one of three members' jobs: three grids, once."""
    engines = [ray_engine(served, ray_config) for _ in range(2)]
    members = [emulator.member, emulator.create_member("bea"), emulator.create_member("cy")]
    async with running_easel(emulator, tiny_engine, config, queue_engines=engines) as easel:
        handles = [
            await emulator.invoke_slash("imagine", {"prompt": f"job {i} --steps 30"}, user=member)
            for i, member in enumerate(members)
        ]
        await eventually(lambda: drawing(easel, 2), timeout=LONG)
        await asyncio.sleep(1.0)  # a few steps in
        os.kill(replica_pids()[0], signal.SIGKILL)
        for handle in handles:
            await handle.wait_for_original(is_result, timeout=LONG)
        posted = results(emulator)
        records = [await easel.stores.jobs.get(job_of(message)) for message in posted]
    assert len(posted) == 3
    for index, message in enumerate(posted):
        assert f"job {index}" in message.content
    assert all(record is not None and record.status == "done" for record in records)
    attempts = [record.attempts for record in records if record]
    assert max(attempts) >= 2  # the killed replica's job (and any sent there before Serve knew)
    assert max(attempts) <= config.queue.max_attempts
    emulator.assert_no_errors()


async def test_a_restarted_bot_reattaches_to_the_replicas_and_finishes_the_interrupted_job(
    emulator: DiscordEmulator,
    served: dict[str, Any],
    ray_config: BotConfig,
    tiny_engine: Engine,
    config: BotConfig,
) -> None:
    """Stop the bot mid-job while Ray runs on; the next start finds the same replicas."""
    before = sorted(replica_pids())
    engines = await asyncio.to_thread(load_engines, ray_config)
    async with running_easel(emulator, tiny_engine, config, queue_engines=engines) as easel:
        await emulator.invoke_slash("imagine", {"prompt": "across a restart --steps 40"})
        await eventually(lambda: drawing(easel, 1), timeout=LONG)
    assert results(emulator) == []
    engines = await asyncio.to_thread(load_engines, ray_config)
    assert sorted(replica_pids()) == before
    async with running_easel(emulator, tiny_engine, config, queue_engines=engines):
        await emulator.wait_for_message(is_result, timeout=LONG)
    assert len(results(emulator)) == 1
    emulator.assert_no_errors()


async def test_models_shows_a_model_with_running_replicas_as_loaded(
    emulator: DiscordEmulator,
    served: dict[str, Any],
    ray_config: BotConfig,
    tiny_engine: Engine,
    config: BotConfig,
) -> None:
    """Answer /models from Serve's status: the tiny model has replicas up, so it is loaded."""
    engines = [ray_engine(served, ray_config)]
    async with running_easel(emulator, tiny_engine, config, queue_engines=engines):
        handle = await emulator.invoke_slash("models")
        listing = await handle.wait_for_original()
    assert listing.ephemeral
    assert "`tiny-sd` Stable Diffusion 1/2, 32×32 — default, loaded" in listing.content
    emulator.assert_no_errors()
