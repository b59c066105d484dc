"""/style add|remove|list through the emulator: who may, what --style then draws, what shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from tests.bot.cogs.settings_harness import configured, drawn, run
from tests.bot.harness import is_result, running_easel

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator

LONG = 60
MODERATOR = discord.Permissions(manage_messages=True)
NEON = {"name": "neon", "prompt": "{prompt}, neon glow", "negative": "dull", "model": "tiny-b"}


async def test_a_moderators_style_draws_with_style_name(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Wrap the prompt in the added style's template, negative and model; show only its name."""
    config = configured(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        added = await run(emulator, "style add", NEON, mod)
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle --style neon"})
        message = await handle.wait_for_original(is_result, timeout=LONG)
        job = await easel.stores.jobs.get(message.custom_ids()[0].split(":")[2])
    assert job is not None
    assert added.content == "Added the style `neon`: members use it with --style neon."
    request = job.request
    assert (request.style, request.model) == ("neon", "tiny-b")
    assert (request.styled_prompt, request.styled_negative) == ("a red circle, neon glow", "dull")
    assert "neon glow" not in message.content
    emulator.assert_no_errors()


async def test_a_server_style_can_be_the_servers_default(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Draw a plain prompt in the server's own style once it is the server's default."""
    config = configured(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "style add", NEON, mod)
        await run(emulator, "settings server", {"style": "NEON"}, mod)
        job = await drawn(emulator, easel, "a red circle")
    assert job.request.style == "neon"


async def test_members_cannot_add_or_remove_styles(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse a member's /style add and /style remove at run time."""
    config = configured(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "style add", NEON, mod)
        add = await run(emulator, "style add", {"name": "mine", "prompt": "{prompt}, mine"})
        remove = await run(emulator, "style remove", {"name": "neon"})
        names = [style.name for style in easel.settings.styles.of(emulator.guild.id)]
    assert all(a.ephemeral and "Only moderators" in a.content for a in (add, remove))
    assert names == ["neon"]


async def test_a_name_every_server_has_is_refused(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse a style named like a config style or raw."""
    config = configured(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        ink = await run(emulator, "style add", {"name": "Ink", "prompt": "{prompt}, x"}, mod)
        raw = await run(emulator, "style add", {"name": "raw", "prompt": "{prompt}, x"}, mod)
    assert "Ink is taken: every server has the styles ink, oil, raw" in ink.content
    assert "raw is taken" in raw.content


async def test_a_template_without_prompt_is_refused(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse a template that does not hold {prompt} exactly once, saying so."""
    config = configured(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        refusal = await run(emulator, "style add", {"name": "bad", "prompt": "no place"}, mod)
    assert refusal.ephemeral
    assert "must contain {prompt} exactly once" in refusal.content


async def test_style_list_shows_the_hidden_text_only_to_moderators(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """List every style's name to members; the server's templates to moderators alone."""
    config = configured(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "style add", NEON, mod)
        member_view = await run(emulator, "style list", {})
        moderator_view = await run(emulator, "style list", {}, mod)
    assert "Every server: ink, oil" in member_view.content
    assert "This server's: neon" in member_view.content
    assert "neon glow" not in member_view.content
    assert "• `neon`: `{prompt}, neon glow` · avoids `dull` · model `tiny-b`" in (
        moderator_view.content
    )


async def test_a_removed_style_is_refused_by_name(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse --style NAME once NAME was removed, listing what is left."""
    config = configured(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "style add", NEON, mod)
        removed = await run(emulator, "style remove", {"name": "neon"}, mod)
        refusal = await run(emulator, "imagine", {"prompt": "a red circle --style neon"})
    assert removed.content == "Removed the style `neon`."
    assert refusal.ephemeral
    assert "There is no style called 'neon' here. Styles: ink, oil, raw." in refusal.content


async def test_another_server_does_not_have_the_style(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse --style NAME in a server other than the one that added NAME."""
    other = emulator.create_guild("Server B")
    channel = emulator.create_channel("b-general", guild=other)
    bob = emulator.create_member("bob", guild=other)
    config = configured(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "style add", NEON, mod)
        refusal = await run(emulator, "imagine", {"prompt": "a fox --style neon"}, bob, channel)
        listing = await run(emulator, "style list", {}, bob, channel)
    assert "There is no style called 'neon' here" in refusal.content
    assert "neon" not in listing.content


async def test_style_remove_autocompletes_the_servers_styles(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Offer this server's own style names, not the config's, when removing one."""
    config = configured(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "style add", NEON, mod)
        handle = await emulator.autocomplete("style remove", {"name": "n"}, "name", user=mod)
        answer = await handle.wait_for_response()
    assert answer.data["choices"] == [{"name": "neon", "value": "neon"}]
