"""Moderation through the emulator: commands, permissions, filters, limits, bans, images, audit."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord
from PIL import Image

from bot.moderation.image_safety import SafetyReading, placeholder
from tests.bot.harness import bot_config, is_result, running_easel

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import MemberRecord, MessageRecord

LONG = 30
MODERATOR = discord.Permissions(manage_messages=True)


async def run(
    emulator: DiscordEmulator, command: str, options: dict[str, object], user: MemberRecord
) -> MessageRecord:
    """Invoke a command as ``user`` and return its (ephemeral) answer."""
    handle = await emulator.invoke_slash(
        command, options, user=user, ignore_command_permissions=True
    )
    return await handle.wait_for_original()


async def refused_imagine(
    emulator: DiscordEmulator, prompt: str, user: MemberRecord | None = None
) -> MessageRecord:
    """Run /imagine expecting a refusal; return the private message the user got."""
    handle = await emulator.invoke_slash("imagine", {"prompt": prompt}, user=user)
    message = await handle.wait_for_followup(timeout=LONG)
    assert handle.original is not None
    assert handle.original.deleted
    return message


async def test_members_without_the_permission_are_refused_at_run_time(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse /filter add from a plain member even though the command reached the bot."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        answer = await run(emulator, "filter add", {"pattern": "fox"}, emulator.member)
        assert answer.ephemeral
        assert "Only moderators" in answer.content
        assert await easel.stores.moderation.filters(emulator.guild.id) == []
    hidden = next(c for c in emulator.global_commands if c.name == "filter")
    assert int(hidden.payload["default_member_permissions"]) == MODERATOR.value


async def test_a_word_filter_blocks_disguised_prompts_and_logs_the_full_prompt(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Block ｆ-o-x privately, and post the whole prompt to the mod-log channel."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        added = await run(emulator, "filter add", {"pattern": "fox"}, mod)
        await run(emulator, "modlog", {"channel": emulator.nsfw_channel}, mod)
        refusal = await refused_imagine(emulator, "a cute ｆ-o-x in the snow")
        logged = await emulator.wait_for_message(
            lambda m: m.channel_id == emulator.nsfw_channel.id and "Blocked" in m.content
        )
    assert added.content.startswith("Added word filter #")
    assert refusal.ephemeral
    assert refusal.content.startswith("Blocked")
    assert "a cute ｆ-o-x in the snow" in logged.content
    emulator.assert_no_errors()


async def test_filter_test_list_and_remove(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Test a text (Blocked/Allowed), list the filters, remove one."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "filter add", {"pattern": "red fox", "kind": "phrase"}, mod)
        blocked = await run(emulator, "filter test", {"text": "a r e d f o x"}, mod)
        allowed = await run(emulator, "filter test", {"text": "a red box"}, mod)
        listing = await run(emulator, "filter list", {}, mod)
        removed = await run(emulator, "filter remove", {"number": 1}, mod)
        after = await run(emulator, "filter test", {"text": "a red fox"}, mod)
    assert blocked.content.startswith("Blocked by phrase filter #1")
    assert "Normalised text: `aredfox`" in blocked.content
    assert allowed.content.startswith("Allowed")
    assert "#1 phrase · block · `red fox`" in listing.content
    assert removed.content.startswith("Removed phrase filter #1")
    assert after.content.startswith("Allowed")


async def test_a_flag_filter_lets_the_job_run_and_records_it(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Draw a flagged prompt, and record the flag in the audit log."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "filter add", {"pattern": "circle", "action": "flag"}, mod)
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle"})
        await handle.wait_for_original(is_result, timeout=LONG)
        audit = await run(emulator, "audit", {}, mod)
    assert "**flag**" in audit.content
    assert "**job**" in audit.content


async def test_the_built_in_list_blocks_by_class(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Tell a blocked user the class of term (nudity), once the built-in list is on."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "filter defaults", {"state": "on"}, mod)
        refusal = await refused_imagine(emulator, "a n4ked statue")
    assert "nudity" in refusal.content


async def test_the_rate_limit_refuses_with_a_retry_time_and_survives_a_restart(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Allow the burst, refuse the next job with when to retry, and still refuse after a restart."""
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "limits set", {"per_minute": 0.5, "burst": 2}, mod)
        for index in range(2):
            handle = await emulator.invoke_slash("imagine", {"prompt": f"job {index}"})
            await handle.wait_for_original(is_result, timeout=LONG)
        refusal = await refused_imagine(emulator, "one more")
    async with running_easel(emulator, tiny_engine, config):
        after_restart = await refused_imagine(emulator, "after the restart")
    assert "faster than this server allows" in refusal.content
    assert "try again in" in refusal.content
    assert "try again in" in after_restart.content


async def test_a_banned_user_pressing_v1_is_refused_privately(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse a banned member's button press and command; allow them again after /unban."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        bob = emulator.create_member("bob")
        grid = await (
            await emulator.invoke_slash("imagine", {"prompt": "a red circle"})
        ).wait_for_original(is_result, timeout=LONG)
        banned = await run(emulator, "ban", {"user": bob, "duration": "2h", "reason": "spam"}, mod)
        click = await emulator.click(grid, grid.custom_ids()[5], user=bob)
        refusal = await click.wait_for_followup(timeout=LONG)
        command = await refused_imagine(emulator, "anything", user=bob)
        await run(emulator, "unban", {"user": bob}, mod)
        again = await emulator.click(grid, grid.custom_ids()[5], user=bob)
        await again.wait_for_original(is_result, timeout=LONG)
    assert "Banned" in banned.content
    assert refusal.ephemeral
    assert "banned" in refusal.content
    assert "Reason: spam" in refusal.content
    assert "banned" in command.content


class FlagsSecondImage:
    """A fault-injected classifier reading: image 2 of every grid is unsafe."""

    def classify(self, images: Sequence[Image.Image]) -> list[SafetyReading]:
        """Call the second image unsafe and the rest safe."""
        return [
            SafetyReading(
                unsafe=index == 1, labels=("BUTTOCKS_EXPOSED",) if index == 1 else (), score=0.9
            )
            for index in range(len(images))
        ]


async def test_an_unsafe_image_is_withheld_outside_age_restricted_channels(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Post a placeholder in its cell, tell the user, log it, and overwrite the file."""
    config = bot_config(tmp_path, tiny_model_dir, moderation={"image_check": True})
    modlog = emulator.create_channel("mod-log")  # channels exist before the bot connects
    async with running_easel(emulator, tiny_engine, config, classifier=FlagsSecondImage()) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "modlog", {"channel": modlog}, mod)
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle --seed 4"})
        message = await handle.wait_for_original(is_result, timeout=LONG)
        logged = await emulator.wait_for_message(lambda m: m.channel_id == modlog.id)
        job = await easel.stores.jobs.get(message.custom_ids()[0].split(":")[2])
    assert job is not None
    assert "1 of the 4 images were withheld" in message.content
    assert "Withheld 1 image" in logged.content
    grid = Image.open(io.BytesIO(message.attachments[0].data)).convert("RGB")
    assert not message.attachments[0].filename.startswith("SPOILER_")
    drawn = tiny_engine.generate(job.request).images  # the same seeds draw the same images
    cells = [grid.crop((x, y, x + 32, y + 32)) for y in (0, 32) for x in (0, 32)]
    assert cells[1].tobytes() == placeholder(drawn[1]).tobytes()
    assert cells[1].tobytes() != drawn[1].tobytes()
    assert [c.tobytes() for i, c in enumerate(cells) if i != 1] == [
        d.tobytes() for i, d in enumerate(drawn) if i != 1
    ]
    assert Image.open(job.outputs[1]).convert("RGB").tobytes() == cells[1].tobytes()


async def test_an_unsafe_image_is_a_spoiler_in_an_age_restricted_channel(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Post the grid as a spoiler in an NSFW channel (the default policy there)."""
    config = bot_config(tmp_path, tiny_model_dir, moderation={"image_check": True})
    async with running_easel(emulator, tiny_engine, config, classifier=FlagsSecondImage()):
        handle = await emulator.invoke_slash(
            "imagine", {"prompt": "a red circle"}, channel=emulator.nsfw_channel
        )
        message = await handle.wait_for_original(is_result, timeout=LONG)
    assert message.attachments[0].filename.startswith("SPOILER_")
    assert "withheld" not in message.content
