"""Midjourney's --repeat through the bot: N grids, each in its own message, within the limits."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tests.bot.harness import bot_config, is_result, running_easel

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import MessageRecord

LONG = 60


def job_of(message: MessageRecord) -> str:
    """Return the job id carried by a result's buttons."""
    return message.custom_ids()[0].split(":")[2]


async def results(emulator: DiscordEmulator, count: int) -> list[MessageRecord]:
    """Wait until ``count`` finished grids are posted or edited in; return them."""
    async with asyncio.timeout(LONG):
        while len(done := [m for m in emulator.messages if is_result(m)]) < count:  # noqa: ASYNC110 - messages have no event per kind
            await asyncio.sleep(0.05)
    return done


async def test_repeat_draws_that_many_grids_each_in_its_own_message(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Queue --repeat 3 as three jobs, delivered in three messages, seeds four apart."""
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config) as easel:
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox --seed 10 --repeat 3"})
        await handle.wait_for_original(is_result, timeout=LONG)
        grids = await results(emulator, 3)
        jobs = [await easel.stores.jobs.get(job_of(grid)) for grid in grids]
    assert len({grid.id for grid in grids}) == 3
    assert sorted(job.request.seed for job in jobs if job) == [10, 14, 18]
    assert {job.owner for job in jobs if job} == {str(emulator.member.user.id)}
    emulator.assert_no_errors()


async def test_a_repeat_beyond_the_members_room_is_refused_before_queueing(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse --repeat 3 privately when the member may queue only two jobs, queueing none."""
    config = bot_config(tmp_path, tiny_model_dir, queue={"max_jobs_per_user": 2})
    async with running_easel(emulator, tiny_engine, config) as easel:
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox --repeat 3"})
        reply = await handle.wait_for_original()
        waiting = easel.scheduler.waiting + easel.scheduler.running
    assert reply.ephemeral
    assert "--repeat 3 asks for 3 jobs, but you have room for 2" in reply.content
    assert waiting == 0


async def test_a_repeat_above_the_servers_limit_is_refused_with_the_range(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse --repeat above generation.max_repeat, naming the range."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox --repeat 9"})
        reply = await handle.wait_for_original()
    assert reply.ephemeral
    assert "--repeat must be a whole number from 1 to 4" in reply.content
