"""Server, channel and member defaults through the emulator: /settings, /prefer and their jobs."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord
import pytest
from PIL import Image

from tests.bot.cogs.settings_harness import configured, drawn, run
from tests.bot.cogs.test_moderation import FlagsSecondImage
from tests.bot.harness import is_result, running_easel
from tests.fakediscord.interactions import CHANNEL_MESSAGE
from tests.fakediscord.models import Upload

if TYPE_CHECKING:
    from pathlib import Path

    from bot.config import BotConfig
    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator

LONG = 60
MODERATOR = discord.Permissions(manage_messages=True)


@pytest.fixture
def config(tmp_path: Path, tiny_model_dir: Path) -> BotConfig:
    """Return the two-model, two-style config, without the image check."""
    return configured(tmp_path, tiny_model_dir)


@pytest.fixture
def checked(tmp_path: Path, tiny_model_dir: Path) -> BotConfig:
    """Return the two-model, two-style config with the image check on."""
    return configured(tmp_path, tiny_model_dir, moderation={"image_check": True})


def terms(negative: str) -> set[str]:
    """Return the comma-separated terms of a negative prompt."""
    return {term.strip() for term in negative.split(",") if term.strip()}


# The order of defaults


async def test_the_servers_defaults_apply_to_a_plain_prompt(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Draw a prompt that names nothing with the server's model and style."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings server", {"model": "tiny-b", "style": "ink"}, mod)
        job = await drawn(emulator, easel, "a red circle")
    assert (job.request.model, job.request.style) == ("tiny-b", "ink")
    assert job.request.styled_prompt == "ink drawing of a red circle"
    emulator.assert_no_errors()


async def test_the_channels_defaults_beat_the_servers(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Draw with the channel's model and style over the server's."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings server", {"model": "tiny-b", "style": "ink"}, mod)
        await run(emulator, "settings channel", {"model": "tiny-a", "style": "oil"}, mod)
        job = await drawn(emulator, easel, "a red circle")
    assert (job.request.model, job.request.style) == ("tiny-a", "oil")


async def test_a_members_preferences_beat_the_channels(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Draw with the member's model, style, aspect and --no over the channel's defaults."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings channel", {"model": "tiny-a", "style": "oil"}, mod)
        preferences = {"model": "tiny-b", "style": "ink", "aspect": "2:1", "no": "fog"}
        await run(emulator, "prefer set", preferences)
        job = await drawn(emulator, easel, "a red circle")
    request = job.request
    assert (request.model, request.style, request.negative_prompt) == ("tiny-b", "ink", "fog")
    assert (request.width, request.height) == (64, 32)


async def test_the_prompt_beats_every_default(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Draw with the prompt's own --model, --style raw, --ar and --no whatever was chosen."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings server", {"model": "tiny-b", "style": "ink"}, mod)
        await run(emulator, "settings channel", {"style": "oil"}, mod)
        await run(emulator, "prefer set", {"model": "tiny-b", "aspect": "2:1", "no": "fog"})
        prompt = "a red circle --model tiny-a --style raw --ar 1:2 --no smoke"
        job = await drawn(emulator, easel, prompt)
    request = job.request
    assert (request.model, request.style, request.negative_prompt) == ("tiny-a", "", "smoke")
    assert (request.width, request.height) == (32, 64)


# The enforced negative


async def test_the_enforced_negative_survives_the_members_negative_and_no(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Keep the server's and the channel's enforced terms beside the member's own."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings server", {"negative": "watermark"}, mod)
        await run(emulator, "settings channel", {"negative": "blurry"}, mod)
        job = await drawn(emulator, easel, "a red circle --no smoke", negative="text")
    assert terms(job.request.negative_prompt) == {"text", "smoke", "watermark", "blurry"}


async def test_the_buttons_jobs_keep_the_enforced_negative(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Add the enforced negative to U1's, V1's and 🔄's jobs, even of an older grid."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle --no smoke"})
        grid = await handle.wait_for_original(is_result, timeout=LONG)
        await run(emulator, "settings server", {"negative": "watermark"}, mod)
        negatives = []
        for button in (0, 5, 4):  # U1, V1, 🔄
            click = await emulator.click(grid, grid.custom_ids()[button])
            result = await click.wait_for_original(is_result, timeout=LONG)
            job = await easel.stores.jobs.get(result.custom_ids()[0].split(":")[2])
            assert job is not None
            negatives.append(terms(job.request.negative_prompt))
    assert negatives == [{"smoke", "watermark"}] * 3


# Caps


async def test_steps_over_the_channels_cap_are_refused_before_acknowledging(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Refuse --steps above the channel's cap privately, naming the limit, queueing nothing."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings channel", {"max_steps": 3}, mod)
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle --steps 4"})
        refusal = await handle.wait_for_original()
        queued = easel.scheduler.entries()
    assert handle.callback is not None
    assert handle.callback.type == CHANNEL_MESSAGE
    assert refusal.ephemeral
    assert "--steps must be a whole number from 1 to 3" in refusal.content
    assert queued == []


async def test_default_steps_yield_to_the_cap(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Draw with the channel's cap when the model's default steps are above it."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings server", {"max_steps": 3}, mod)
        await run(emulator, "settings channel", {"max_steps": 2}, mod)
        job = await drawn(emulator, easel, "a red circle")
    assert job.request.steps == 2


# Attachments


async def test_image_prompts_turned_off_are_refused_privately(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Refuse /imagine with an image before acknowledging, downloading or queueing anything."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings channel", {"image_prompts": False}, mod)
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), (0, 0, 255)).save(buffer, format="PNG")
        upload = Upload("start.png", buffer.getvalue(), content_type="image/png")
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle", "image": upload})
        refusal = await handle.wait_for_original()
        queued = easel.scheduler.entries()
    assert handle.callback is not None
    assert handle.callback.type == CHANNEL_MESSAGE
    assert refusal.ephemeral
    assert "Image prompts are turned off in this channel" in refusal.content
    assert queued == []
    assert not [r.path for r in emulator.state.requests if "/attachments/" in r.path]


# Image safety


async def test_a_channel_can_withhold_unsafe_images_though_age_restricted(
    emulator: DiscordEmulator, tiny_engine: Engine, checked: BotConfig
) -> None:
    """Withhold an unsafe image in an NSFW channel whose moderators chose withhold."""
    nsfw = emulator.nsfw_channel
    async with running_easel(emulator, tiny_engine, checked, classifier=FlagsSecondImage()):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings channel", {"unsafe_images": "withhold"}, mod, nsfw)
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle"}, channel=nsfw)
        message = await handle.wait_for_original(is_result, timeout=LONG)
    assert "1 of the 4 images were withheld" in message.content
    assert not message.attachments[0].filename.startswith("SPOILER_")


async def test_the_servers_policy_can_post_unsafe_images_as_is(
    emulator: DiscordEmulator, tiny_engine: Engine, checked: BotConfig
) -> None:
    """Post an unsafe image as is, without a spoiler, where the server chose as_is."""
    nsfw = emulator.nsfw_channel
    async with running_easel(emulator, tiny_engine, checked, classifier=FlagsSecondImage()):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings server", {"unsafe_images": "as_is"}, mod)
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle"}, channel=nsfw)
        message = await handle.wait_for_original(is_result, timeout=LONG)
    assert not message.attachments[0].filename.startswith("SPOILER_")
    assert "withheld" not in message.content


async def test_showing_unsafe_images_is_refused_outside_age_restricted_channels(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Refuse spoiler for a channel that is not age-restricted, saving nothing."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        mod = emulator.create_member("mod", permissions=MODERATOR)
        refusal = await run(emulator, "settings channel", {"unsafe_images": "spoiler"}, mod)
        layers = easel.settings.layers(emulator.guild.id, emulator.channel.id, mod.user.id)
    assert refusal.ephemeral
    assert "not age-restricted" in refusal.content
    assert layers.channel is None


# /settings and /prefer themselves


async def test_members_cannot_change_server_or_channel_settings(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Refuse a member's /settings server, channel and reset at run time, saving nothing."""
    async with running_easel(emulator, tiny_engine, config) as easel:
        answers = [
            await run(emulator, "settings server", {"model": "tiny-b"}),
            await run(emulator, "settings channel", {"max_steps": 2}),
            await run(emulator, "settings reset", {"where": "server"}),
        ]
        layers = easel.settings.layers(emulator.guild.id, emulator.channel.id, 1)
    assert all(a.ephemeral and "Only moderators" in a.content for a in answers)
    assert (layers.server, layers.channel) == (None, None)


async def test_an_unknown_model_is_refused_with_the_choices(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Name the configured models when a moderator's default names another."""
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        refusal = await run(emulator, "settings server", {"model": "nope"}, mod)
    assert refusal.ephemeral
    assert "Models: tiny-a, tiny-b" in refusal.content


async def test_an_unknown_style_preference_is_refused_with_the_choices(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Name the styles this server has when a member prefers another."""
    async with running_easel(emulator, tiny_engine, config):
        refusal = await run(emulator, "prefer set", {"style": "neon"})
    assert "Styles: ink, oil, raw" in refusal.content


async def test_a_bad_aspect_preference_is_refused_like_ar(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Refuse an aspect ratio --ar would refuse, with --ar's own words."""
    async with running_easel(emulator, tiny_engine, config):
        refusal = await run(emulator, "prefer set", {"aspect": "16x9"})
    assert refusal.ephemeral
    assert "--ar takes a width:height ratio" in refusal.content


async def test_settings_show_lists_each_layer(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Show the server's, the channel's and the member's choices, and what they give."""
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings server", {"model": "tiny-b", "negative": "text"}, mod)
        await run(emulator, "settings channel", {"max_steps": 3, "image_prompts": False}, mod)
        await run(emulator, "prefer set", {"aspect": "2:1"})
        shown = await run(emulator, "settings show", {})
    lines = shown.content.splitlines()
    assert shown.ephemeral
    assert "**Server**: model `tiny-b` · always avoids `text`" in lines
    assert "**This channel**: at most 3 steps · image prompts off" in lines
    assert "**You**: --ar 2:1" in lines
    assert (
        "**In effect here**: model `tiny-b` · --ar 2:1 · at most 3 steps · "
        "always avoids `text` · image prompts off"
    ) in lines


async def test_prefer_reset_forgets_one_preference_or_all(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Forget only the style, then everything; /prefer show says what is left."""
    async with running_easel(emulator, tiny_engine, config):
        await run(emulator, "prefer set", {"aspect": "2:1", "style": "ink"})
        both = await run(emulator, "prefer show", {})
        await run(emulator, "prefer reset", {"setting": "style"})
        aspect_only = await run(emulator, "prefer show", {})
        await run(emulator, "prefer reset", {})
        none = await run(emulator, "prefer show", {})
    assert both.content == "Your defaults here: --ar 2:1 · style `ink`."
    assert aspect_only.content == "Your defaults here: --ar 2:1."
    assert none.content == "Your defaults here: nothing chosen."


async def test_settings_reset_forgets_one_channel_setting(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Forget the channel's model, keeping its steps cap."""
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings channel", {"model": "tiny-b", "max_steps": 3}, mod)
        answer = await run(
            emulator, "settings reset", {"where": "channel", "setting": "model"}, mod
        )
    assert answer.content == "This channel now has: at most 3 steps."


async def test_settings_survive_a_restart(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Keep the server's and the member's choices across a restart."""
    async with running_easel(emulator, tiny_engine, config):
        mod = emulator.create_member("mod", permissions=MODERATOR)
        await run(emulator, "settings server", {"model": "tiny-b"}, mod)
        await run(emulator, "prefer set", {"aspect": "2:1"})
    async with running_easel(emulator, tiny_engine, config) as easel:
        job = await drawn(emulator, easel, "a red circle")
    assert job.request.model == "tiny-b"
    assert (job.request.width, job.request.height) == (64, 32)


async def test_the_model_and_style_options_autocomplete(
    emulator: DiscordEmulator, tiny_engine: Engine, config: BotConfig
) -> None:
    """Offer the models and styles matching what was typed, in subcommands too."""
    async with running_easel(emulator, tiny_engine, config):
        models = await emulator.autocomplete("settings server", {"model": "b"}, "model")
        styles = await emulator.autocomplete("prefer set", {"style": "o"}, "style")
        model_answer = await models.wait_for_response()
        style_answer = await styles.wait_for_response()
    assert model_answer.data["choices"] == [{"name": "tiny-b", "value": "tiny-b"}]
    assert style_answer.data["choices"] == [{"name": "oil", "value": "oil"}]
