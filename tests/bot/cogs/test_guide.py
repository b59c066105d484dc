"""/help for everyone, /stats for moderators."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from tests.bot.harness import bot_config, is_result, running_easel

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator


async def test_help_explains_parameters_and_buttons_privately(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Answer /help with the parameters and buttons, only to the caller."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        message = await (await emulator.invoke_slash("help")).wait_for_original()
    assert message.ephemeral
    guide = message.embeds[0]["description"]
    for term in (
        "--ar",
        "--seed",
        "--no",
        "--fast",
        "U1",
        "V1",
        "Vary (Region)",
        "Custom Zoom",
        "/queue",
    ):
        assert term in guide


async def test_help_lists_the_defaults_and_style_commands(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Name /prefer, /settings and /style, and the order of defaults."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        message = await (await emulator.invoke_slash("help")).wait_for_original()
    guide = message.embeds[0]["description"]
    assert "server < channel < you < your prompt" in guide
    for term in ("/prefer set", "/settings show", "/settings server", "/style add", "{prompt}"):
        assert term in guide


async def test_stats_shows_todays_activity_to_moderators(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Count today's jobs and images and show the queue, for a moderator."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        moderator = emulator.create_member(
            "mod", permissions=discord.Permissions(manage_messages=True)
        )
        grid = await emulator.invoke_slash("imagine", {"prompt": "a red circle"})
        await grid.wait_for_original(is_result, timeout=30)
        stats = await emulator.invoke_slash("stats", user=moderator)
        message = await stats.wait_for_original()
    fields = {field["name"]: field["value"] for field in message.embeds[0]["fields"]}
    assert message.ephemeral
    assert fields["Today (UTC)"] == "1 jobs, 4 images"
    assert fields["Queue"] == "0 running, 0 waiting"
    assert "CPU" in fields["GPU memory"]


async def test_stats_is_hidden_and_refused_for_other_members(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Hide /stats by default and refuse it at run time even when invoked."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        command = next(c for c in emulator.global_commands if c.name == "stats")
        handle = await emulator.invoke_slash("stats", ignore_command_permissions=True)
        refusal = await handle.wait_for_original()
    hidden_for = int(command.payload["default_member_permissions"])
    assert hidden_for == discord.Permissions(manage_messages=True).value
    assert refusal.ephemeral
    assert "Only moderators" in refusal.content
