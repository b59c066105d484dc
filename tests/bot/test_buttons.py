"""The buttons under results: the whole U/V/🔄 loop, deleting, and surviving a restart."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord
from PIL import Image

from tests.bot.harness import bot_config, eventually, is_result, running_easel

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import MessageRecord

LONG = 30


def job_of(message: MessageRecord) -> str:
    """Return the job id carried by a result's buttons."""
    return message.custom_ids()[0].split(":")[2]


async def press(
    emulator: DiscordEmulator, message: MessageRecord, custom_id: str, **who: object
) -> MessageRecord:
    """Click a button that starts a job and return the job's finished message."""
    click = await emulator.click(message, custom_id, **who)  # type: ignore[arg-type]
    return await click.wait_for_original(is_result, timeout=LONG)


async def imagine(emulator: DiscordEmulator, prompt: str) -> MessageRecord:
    """Run /imagine and return the finished grid message."""
    handle = await emulator.invoke_slash("imagine", {"prompt": prompt})
    return await handle.wait_for_original(is_result, timeout=LONG)


async def test_the_whole_loop_upscale_vary_variation_and_reroll(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Go /imagine → U2 → Vary (Strong) → V3 → 🔄, each a new job owned by its presser."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        grid = await imagine(emulator, "a red circle --seed 10")
        upscaled = await press(emulator, grid, f"easel:u:{job_of(grid)}:2")
        strong = await press(emulator, upscaled, f"easel:vary:{job_of(upscaled)}:strong")
        varied = await press(emulator, strong, f"easel:v:{job_of(strong)}:3")
        rerolled = await press(emulator, varied, f"easel:r:{job_of(varied)}")
        jobs = [
            await easel.stores.jobs.get(job_of(m))
            for m in (grid, upscaled, strong, varied, rerolled)
        ]
    assert None not in jobs
    first, upscale, vary_strong, vary_three, reroll = jobs  # type: ignore[misc]
    assert upscale.request.operation == "upscale"
    assert upscale.request.seed == first.request.seeds[1]
    assert upscale.request.init_image == first.outputs[1]
    assert (upscale.request.width, upscale.request.height) == (64, 64)
    assert Image.open(io.BytesIO(upscaled.attachments[0].data)).size == (64, 64)
    assert [b.get("label") for b in upscaled.buttons()][:5] == [
        "Vary (Subtle)",
        "Vary (Strong)",
        "Vary (Region)",
        "Upscale (Subtle)",
        "Upscale (Creative)",
    ]
    assert vary_strong.request.operation == "variation"
    assert vary_strong.request.strength == easel.config.generation.variation_strong
    assert vary_three.request.init_image == vary_strong.outputs[2]
    assert reroll.request.seed != vary_three.request.seed
    assert reroll.request.prompt == vary_three.request.prompt
    assert "(upscale of image #2)" in upscaled.content
    emulator.assert_no_errors()


async def test_anyone_may_press_and_the_new_job_is_theirs(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Let another member vary someone's grid; the variation belongs to the presser."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        bob = emulator.create_member("bob")
        grid = await imagine(emulator, "a blue star")
        varied = await press(emulator, grid, f"easel:v:{job_of(grid)}:1", user=bob)
        job = await easel.stores.jobs.get(job_of(varied))
    assert job is not None
    assert job.owner == str(bob.user.id)
    assert f"<@{bob.user.id}>" in varied.content


async def delete_as(emulator: DiscordEmulator, grid: MessageRecord, **who: object) -> MessageRecord:
    """Press 🗑️ as someone; return the grid message afterwards."""
    click = await emulator.click(grid, f"easel:d:{job_of(grid)}", **who)  # type: ignore[arg-type]
    await click.wait_for_response()
    return grid


async def test_the_owner_can_delete_their_result(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Delete the grid when its owner presses 🗑️."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        grid = await imagine(emulator, "a red circle")
        await delete_as(emulator, grid)
        await emulator.state.notifier.wait_for(
            lambda: True if grid.deleted else None, timeout=5, what="the deletion"
        )
    emulator.assert_no_errors()


async def test_a_moderator_can_delete_anyones_result(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Delete someone's grid when a member with Manage Messages presses 🗑️."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        moderator = emulator.create_member(
            "mod", permissions=discord.Permissions(manage_messages=True)
        )
        grid = await imagine(emulator, "a red circle")
        await delete_as(emulator, grid, user=moderator)
        await emulator.state.notifier.wait_for(
            lambda: True if grid.deleted else None, timeout=5, what="the deletion"
        )


async def test_a_stranger_cannot_delete_and_is_told_privately(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse 🗑️ from someone else, ephemerally, leaving the grid untouched."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        stranger = emulator.create_member("mallory")
        grid = await imagine(emulator, "a red circle")
        click = await emulator.click(grid, f"easel:d:{job_of(grid)}", user=stranger)
        refusal = await click.wait_for_original()
    assert refusal.ephemeral
    assert "Only the person who made this image" in refusal.content
    assert not grid.deleted
    emulator.assert_no_errors()


async def test_buttons_work_after_a_restart(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Press V1 on a grid posted before the bot restarted."""
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config):
        grid = await imagine(emulator, "a red circle --seed 5")
    async with running_easel(emulator, tiny_engine, config) as easel:
        varied = await press(emulator, grid, f"easel:v:{job_of(grid)}:1")
        job = await easel.stores.jobs.get(job_of(varied))
    assert job is not None
    assert job.request.operation == "variation"
    emulator.assert_no_errors()


async def test_a_button_on_a_vanished_job_explains_privately(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Say the image is no longer available when its files are gone."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        grid = await imagine(emulator, "a red circle")
        record = await easel.stores.jobs.get(job_of(grid))
        assert record is not None
        for path in record.outputs:
            path.unlink()
        click = await emulator.click(grid, f"easel:u:{job_of(grid)}:1")
        refusal = await click.wait_for_followup(timeout=LONG)
    assert refusal.ephemeral
    assert "no longer available" in refusal.content
    assert click.original is not None
    assert click.original.deleted


async def test_restart_finds_a_delivery_that_reached_discord_instead_of_posting_again(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Record, at start-up, a delivery Discord shows but the database lost; post nothing twice."""
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config) as easel:
        grid = await imagine(emulator, "a red circle")
        await eventually(lambda: easel.stores.deliveries.get(job_of(grid)), timeout=LONG)
        await easel.database.execute("DELETE FROM deliveries")
    emulator.clock.advance(16 * 60)  # the interaction token is dead by the restart
    async with running_easel(emulator, tiny_engine, config) as easel:
        found = await eventually(lambda: easel.stores.deliveries.get(job_of(grid)), timeout=LONG)
    results = [m for m in emulator.messages if is_result(m) and job_of(m) == job_of(grid)]
    assert results == [grid]
    assert getattr(found, "message_id", None) == grid.id
    emulator.assert_no_errors()


async def test_an_upscale_can_be_upscaled_again_subtly_or_creatively(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Upscale an upscale 2× again: lightly refined (Subtle) or strongly (Creative)."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        grid = await imagine(emulator, "a red circle --seed 10")
        upscaled = await press(emulator, grid, f"easel:u:{job_of(grid)}:1")
        subtle = await press(emulator, upscaled, f"easel:up:{job_of(upscaled)}:subtle")
        creative = await press(emulator, upscaled, f"easel:up:{job_of(upscaled)}:creative")
        jobs = [await easel.stores.jobs.get(job_of(m)) for m in (upscaled, subtle, creative)]
    assert None not in jobs
    source, light, strong = jobs  # type: ignore[misc]
    assert Image.open(io.BytesIO(creative.attachments[0].data)).size == (128, 128)
    assert light.request.init_image == source.outputs[0]
    assert light.request.seed == strong.request.seed == source.request.seed
    assert light.request.strength == easel.config.generation.upscale_strength
    assert strong.request.strength == easel.config.generation.upscale_creative
    assert [b.get("label") for b in creative.buttons()][3:5] == [
        "Upscale (Subtle)",
        "Upscale (Creative)",
    ]
    emulator.assert_no_errors()


async def test_upscaling_past_the_pixel_limit_is_refused_with_the_limit(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse Upscale (Creative) privately when 2× would pass generation.max_pixels."""
    config = bot_config(tmp_path, tiny_model_dir, generation={"max_pixels": 64 * 64})
    async with running_easel(emulator, tiny_engine, config):
        grid = await imagine(emulator, "a red circle --seed 10")
        upscaled = await press(emulator, grid, f"easel:u:{job_of(grid)}:1")
        click = await emulator.click(upscaled, f"easel:up:{job_of(upscaled)}:creative")
        reply = await click.wait_for_followup(timeout=LONG)
    assert reply.ephemeral
    assert "would exceed this server's limit" in reply.content
