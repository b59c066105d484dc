"""Delivering through Discord's bad days: outages, rate limits, lost answers, refused channels.

Each test injects the fault in the emulator and checks the promise: every job is delivered
exactly once, or its owner's server is told why not.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord

from tests.bot.harness import bot_config, eventually, is_result, running_easel
from tests.pipeline.faulty_engine import FaultyEngine

if TYPE_CHECKING:
    from pathlib import Path

    from bot.app import EaselApp
    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import MessageRecord

LONG = 30
TOKEN_LIFE = 15 * 60 + 1


def results(emulator: DiscordEmulator) -> list[MessageRecord]:
    """Return every message that shows a finished job."""
    return [m for m in emulator.messages if is_result(m) and not m.deleted]


def job_of(message: MessageRecord) -> str:
    """Return the job id a result's buttons carry."""
    return message.custom_ids()[0].split(":")[2]


async def owed(easel: EaselApp) -> object:
    """Return the outbox's rows once there is one, else None."""
    return (await easel.stores.outbox.all()) or None


async def finish_held_job(
    emulator: DiscordEmulator, held: FaultyEngine, prompt: str, *, expire_token: bool
) -> None:
    """Start a job, wait until it draws, and (optionally) let its interaction token die."""
    await emulator.invoke_slash("imagine", {"prompt": prompt})
    await asyncio.to_thread(held.holding.wait, LONG)
    if expire_token:
        emulator.clock.advance(TOKEN_LIFE)


async def test_a_result_finished_during_an_outage_is_posted_once_when_discord_is_back(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Keep the result through 90 s of 503s, then post it once, saying it comes late."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held) as easel:
        await finish_held_job(emulator, held, "through the outage", expire_token=True)
        emulator.outage(90, 503)
        held.release()
        await eventually(lambda: owed(easel), timeout=LONG)
        assert results(emulator) == []
        emulator.clock.advance(91)
        posted = await emulator.wait_for_message(is_result, timeout=LONG)
        await eventually(lambda: easel.stores.deliveries.get(job_of(posted)), timeout=LONG)
    assert results(emulator) == [posted]
    assert "Discord was unavailable for a while; here is your image" in posted.content
    assert f"<@{emulator.member.user.id}>" in posted.content
    assert emulator.faults
    emulator.assert_no_errors()


async def test_a_result_owed_at_shutdown_is_delivered_once_after_the_restart(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Keep an owed result in the outbox across a restart and deliver it once then."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held) as easel:
        await finish_held_job(emulator, held, "across a restart", expire_token=True)
        emulator.outage(3600, 503)
        held.release()
        await eventually(lambda: owed(easel), timeout=LONG)
    emulator.end_outage()
    async with running_easel(emulator, tiny_engine, config) as easel:
        posted = await emulator.wait_for_message(is_result, timeout=LONG)
        await eventually(lambda: easel.stores.deliveries.get(job_of(posted)), timeout=LONG)
        left = await easel.stores.outbox.all()
    assert results(emulator) == [posted]
    assert "Discord was unavailable" in posted.content
    assert left == []
    emulator.assert_no_errors()


async def test_a_post_whose_answer_was_lost_is_not_posted_again(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Find the message Discord created when the connection dropped before its answer."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held) as easel:
        await finish_held_job(emulator, held, "a lost answer", expire_token=True)
        emulator.drop_answer_of("POST", "/channels/*/messages")
        held.release()
        posted = await emulator.wait_for_message(is_result, timeout=LONG)
        await eventually(lambda: owed(easel), timeout=LONG)
        emulator.clock.advance(10 * 60)  # past Discord's nonce window: only the look finds it
        delivery = await eventually(
            lambda: easel.stores.deliveries.get(job_of(posted)), timeout=LONG
        )
    assert [fault.kind for fault in emulator.faults] == ["dropped_answer"]
    assert results(emulator) == [posted]
    assert getattr(delivery, "message_id", None) == posted.id
    emulator.assert_no_errors()


async def test_a_transient_failure_of_the_edit_waits_instead_of_posting(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Retry the job's own message after 429s; post no second message meanwhile."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held) as easel:
        await finish_held_job(emulator, held, "rate limited", expire_token=False)
        emulator.rate_limit(1.0, 0.01, routes="/webhooks/*")
        held.release()
        await eventually(lambda: owed(easel), timeout=LONG)
        emulator.end_rate_limit()
        emulator.clock.advance(60)
        (shown,) = [await emulator.wait_for_message(is_result, timeout=LONG)]
        await eventually(lambda: easel.stores.deliveries.get(job_of(shown)), timeout=LONG)
    assert results(emulator) == [shown]
    assert shown.kind != "channel"  # the interaction's own message, edited
    emulator.assert_no_errors()


async def test_a_deleted_channel_ends_the_delivery_and_tells_the_mod_log(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Record an undeliverable job, tell the mod-log why, and show it in /info."""
    modlog = emulator.create_channel("mod-log")
    doomed = emulator.create_channel("doomed")
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held) as easel:
        mod = emulator.create_member("mod", permissions=discord.Permissions(manage_messages=True))
        handle = await emulator.invoke_slash("modlog", {"channel": modlog}, user=mod)
        await handle.wait_for_original()
        await emulator.invoke_slash("imagine", {"prompt": "nowhere to go"}, channel=doomed)
        await asyncio.to_thread(held.holding.wait, LONG)
        emulator.clock.advance(TOKEN_LIFE)
        emulator.delete_channel(doomed)
        held.release()
        note = await emulator.wait_for_message(
            lambda m: m.channel_id == modlog.id and "Could not deliver" in m.content, timeout=LONG
        )
        job_id = note.content.split("`")[1]
        delivery = await easel.stores.deliveries.get(job_id)
        info = await (await emulator.invoke_slash("info", {"job": job_id})).wait_for_original()
        listing = await (await emulator.invoke_slash("queue")).wait_for_original()
    assert results(emulator) == []
    assert getattr(delivery, "outcome", None) == "undeliverable"
    assert "could not be posted" in str(info.embeds)
    assert f"`{job_id}`" in listing.content
    assert "could not be posted" in listing.content


async def test_a_job_waiting_for_discord_is_listed_in_queue_and_info(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Tell the owner, while Discord refuses the post, that the result is waiting for it."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held) as easel:
        await finish_held_job(emulator, held, "waiting for discord", expire_token=True)
        emulator.outage(3600, 503, routes="POST /channels/*/messages")
        held.release()
        await eventually(lambda: owed(easel), timeout=LONG)
        (entry,) = await easel.stores.outbox.all()
        listing = await (await emulator.invoke_slash("queue")).wait_for_original()
        info = await (
            await emulator.invoke_slash("info", {"job": entry.job_id})
        ).wait_for_original()
    assert f"`{entry.job_id}`" in listing.content
    assert "waiting for Discord" in listing.content
    assert "waiting for Discord" in str(info.embeds)


async def test_jobs_are_delivered_once_through_a_gateway_cut_and_rate_limits(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Deliver every job exactly once while the gateway drops and a third of calls get 429."""
    config = bot_config(tmp_path, tiny_model_dir)
    users = [emulator.create_member(f"member{i}") for i in range(3)]
    async with running_easel(emulator, tiny_engine, config) as easel:
        emulator.rate_limit(0.3, 0.01, seed=7)
        handles = [
            await emulator.invoke_slash("imagine", {"prompt": f"job {i}"}, user=users[i % 3])
            for i in range(6)
        ]
        emulator.cut_gateway()
        for handle in handles:
            await handle.wait_for_response()
        emulator.end_rate_limit()
        emulator.clock.advance(120)
        await eventually(lambda: _all_delivered(easel, 6), timeout=LONG)
    shown = [job_of(m) for m in results(emulator)]
    assert len(shown) == 6
    assert len(set(shown)) == 6
    assert any(fault.kind == "rate_limit" for fault in emulator.faults)
    emulator.assert_no_errors()


async def _all_delivered(easel: EaselApp, count: int) -> bool | None:
    """Return True once ``count`` deliveries are recorded and nothing is owed."""
    rows = await easel.database.fetch_all("SELECT job_id FROM deliveries")
    owed_now = await easel.stores.outbox.all()
    return True if len(rows) >= count and not owed_now else None


async def test_a_defer_whose_answer_was_lost_still_gets_its_grid(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Go on with a job whose "thinking" reached Discord though its answer was lost."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        emulator.drop_answer_of("POST", "/interactions/*/callback")
        handle = await emulator.invoke_slash("imagine", {"prompt": "a lost defer"})
        grid = await handle.wait_for_original(is_result, timeout=LONG)
    assert [fault.kind for fault in emulator.faults] == ["dropped_answer"]
    assert results(emulator) == [grid]
    emulator.assert_no_errors()


async def test_a_refusal_whose_answer_was_lost_is_not_followed_by_an_apology(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Say nothing more when the answer to a private refusal is lost on its way back."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        mod = emulator.create_member("mod", permissions=discord.Permissions(manage_messages=True))
        added = await emulator.invoke_slash("filter add", {"pattern": "fox"}, user=mod)
        await added.wait_for_original()
        emulator.drop_answer_of("POST", "/webhooks/*")  # the refusal's follow-up
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox"})
        refusal = await handle.wait_for_followup(timeout=LONG)
        await asyncio.sleep(0.5)  # room for a wrong second answer to arrive
    assert refusal.content.startswith("Blocked")
    assert len(handle.followups) == 1
    assert "error id" not in str([m.content for m in emulator.messages])
