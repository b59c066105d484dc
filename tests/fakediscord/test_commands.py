"""Application commands: sync, and invoking them with options as a user's client would."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
import pytest

from .invoke import InvocationError
from .models import MANAGE_MESSAGES, Upload
from .sample_bot import TINY_PNG, SampleBot

if TYPE_CHECKING:
    from .emulator import DiscordEmulator


async def test_global_sync_registers_commands(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Record what `tree.sync()` registered globally, with ids discord.py parses back."""
    names = {command.name for command in emulator.global_commands}
    assert {"draw", "buttons", "settings", "inspect"} <= names
    fetched = await bot.tree.fetch_commands()
    assert {c.id for c in fetched} == {c.id for c in emulator.global_commands}


async def test_guild_sync_registers_guild_commands(emulator: DiscordEmulator) -> None:
    """Record guild-scoped commands separately from global ones."""
    client = SampleBot()
    async with emulator.running(client):
        guild = discord.Object(emulator.guild.id)
        client.tree.copy_global_to(guild=guild)
        synced = await client.tree.sync(guild=guild)
    assert {c.name for c in emulator.guild_commands()} == {c.name for c in synced}
    assert emulator.global_commands == []


async def test_resync_keeps_command_ids(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Keep a command's id across a bulk overwrite, as Discord does."""
    before = {c.name: c.id for c in emulator.global_commands}
    await bot.tree.sync()
    assert {c.name: c.id for c in emulator.global_commands} == before


async def test_invalid_command_description_is_refused(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Refuse a description over 100 characters with 50035, as Discord does."""
    too_long = "x" * 101
    bot.tree.add_command(
        discord.app_commands.Command(name="bad", description=too_long, callback=_noop)
    )
    with pytest.raises(discord.HTTPException) as caught:
        await bot.tree.sync()
    assert caught.value.code == 50035
    assert "description" in caught.value.text


async def test_unregistered_command_cannot_be_invoked(emulator: DiscordEmulator) -> None:
    """Refuse to invoke a command that was never synced: Discord would not offer it."""
    with pytest.raises(InvocationError, match="sync"):
        await emulator.invoke_slash("draw", {"prompt": "cat"})


async def test_options_arrive_typed_and_resolved(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Deliver int, float, bool, member, channel and attachment options with `resolved` data."""
    bob = emulator.create_member("bob")
    handle = await emulator.invoke_slash(
        "inspect",
        {"count": 3, "ratio": 1.5, "loud": True, "who": bob, "where": emulator.nsfw_channel},
        attachments=[Upload("in.png", TINY_PNG)],
        attachment_size_limit=8 * 1024 * 1024,
    )
    await handle.wait_for_original()
    seen = bot.seen
    assert (seen["count"], seen["ratio"], seen["loud"]) == (3, 1.5, True)
    assert seen["who"].id == bob.user.id
    assert isinstance(seen["who"], discord.Member)
    assert seen["where"].id == emulator.nsfw_channel.id
    image: discord.Attachment = seen["image"]
    assert (image.filename, image.content_type, image.width, image.height) == (
        "in.png",
        "image/png",
        1,
        1,
    )
    assert seen["image_bytes"] == TINY_PNG
    assert seen["filesize_limit"] == 8 * 1024 * 1024


async def test_member_permissions_reach_the_bot(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Send the member's permissions so the bot's run-time check sees Manage Messages."""
    moderator = emulator.create_member("mod", permissions=discord.Permissions(manage_messages=True))
    handle = await emulator.invoke_slash("purge", user=moderator)
    assert (await handle.wait_for_original()).content == "purged"


async def test_command_hidden_from_members_without_default_permissions(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Refuse a command whose default permissions the member lacks, unless overridden."""
    with pytest.raises(InvocationError, match="hides /purge"):
        await emulator.invoke_slash("purge")
    handle = await emulator.invoke_slash("purge", ignore_command_permissions=True)
    assert (await handle.wait_for_original()).content == "no"
    assert not emulator.guild.permissions_of(emulator.member) & MANAGE_MESSAGES


async def test_subcommand_in_a_group(emulator: DiscordEmulator, bot: SampleBot) -> None:
    """Invoke "group sub" with the nested options Discord sends."""
    handle = await emulator.invoke_slash("settings show", {"key": "upscale"})
    assert (await handle.wait_for_original()).content == "upscale=on"


async def test_missing_required_option_is_refused(
    emulator: DiscordEmulator, bot: SampleBot
) -> None:
    """Refuse to send a command without a required option, as the client would."""
    with pytest.raises(InvocationError, match="prompt"):
        await emulator.invoke_slash("draw")


async def _noop(interaction: discord.Interaction) -> None:
    """Do nothing; a callback for commands that only need registering."""
