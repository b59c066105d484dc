"""/settings and /prefer: the defaults of a server, of a channel and of a member.

``/settings show`` and every ``/prefer`` command are for members; ``/settings server``,
``channel`` and ``reset`` are for moderators. Discord's ``default_permissions`` would hide the
whole ``/settings`` group, ``show`` included, so nothing is hidden and
:class:`~bot.settings.SettingsService` refuses non-moderators when the command runs, as the
moderation commands do. The cog only describes commands and words the answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

# discord.py reads the options' annotations when the cog is built: these are run-time imports.
from bot.moderation.image_safety import NsfwChannelMode  # noqa: TC001
from bot.permissions import Actor
from bot.replies import reply_privately
from bot.settings import PlaceChanges, PlaceSetting, PreferenceSetting

if TYPE_CHECKING:
    from bot.job_defaults import JobSettings, MemberPreferences, PlaceDefaults
    from bot.model_roster import ModelRoster
    from bot.settings import Layers, SettingsService

Where = Literal["server", "channel"]
PLACE_OPTIONS = {
    "model": "The model prompts use unless they (or the member) choose one",
    "style": "The style preset prompts use unless they choose one (raw: none)",
    "max_steps": "The most steps a job may take here",
    "max_megapixels": "The largest image here, in megapixels (1 ≈ 1024×1024)",
    "negative": "What every image here avoids; members cannot remove it",
    "image_prompts": "Whether members may attach an image to /imagine",
    "unsafe_images": "What age-restricted channels do with images the safety check flags",
}
NOTHING = "nothing chosen"


class SettingsCog(commands.Cog):
    """Moderators' defaults and rules per server and channel, and members' own defaults."""

    settings = app_commands.Group(
        name="settings", description="The defaults and rules here", guild_only=True
    )
    prefer = app_commands.Group(
        name="prefer", description="Your own defaults in this server", guild_only=True
    )

    def __init__(
        self, service: SettingsService, roster: ModelRoster, *, moderator_role: str | None
    ) -> None:
        self._service = service
        self._roster = roster
        self._moderator_role = moderator_role

    def _actor(self, interaction: discord.Interaction) -> Actor:
        """Return who runs the command."""
        return Actor.of(interaction, self._moderator_role)

    # /settings

    @settings.command(
        name="show", description="Show the server's, this channel's and your defaults"
    )
    async def show(self, interaction: discord.Interaction) -> None:
        """Describe each layer and what they give here."""
        layers = self._service.layers(
            interaction.guild_id, interaction.channel_id, interaction.user.id
        )
        await reply_privately(interaction, describe_layers(layers)[:1990])

    @settings.command(
        name="server", description="Set this server's defaults and rules (moderators)"
    )
    @app_commands.describe(**PLACE_OPTIONS)
    async def server(
        self,
        interaction: discord.Interaction,
        *,  # discord.py passes options by name
        model: app_commands.Range[str, 1, 64] | None = None,
        style: app_commands.Range[str, 1, 32] | None = None,
        max_steps: app_commands.Range[int, 1, 500] | None = None,
        max_megapixels: app_commands.Range[float, 0.01, 64.0] | None = None,
        negative: app_commands.Range[str, 1, 1000] | None = None,
        image_prompts: bool | None = None,
        unsafe_images: NsfwChannelMode | None = None,
    ) -> None:
        """Save the server's choices."""
        changes = PlaceChanges(
            model, style, max_steps, max_megapixels, negative, image_prompts, unsafe_images
        )
        saved = await self._service.change_place(self._actor(interaction), None, changes)
        await reply_privately(interaction, f"This server now has: {describe_place(saved)}.")

    @settings.command(
        name="channel", description="Set this channel's defaults and rules (moderators)"
    )
    @app_commands.describe(**PLACE_OPTIONS)
    async def channel(
        self,
        interaction: discord.Interaction,
        *,  # discord.py passes options by name
        model: app_commands.Range[str, 1, 64] | None = None,
        style: app_commands.Range[str, 1, 32] | None = None,
        max_steps: app_commands.Range[int, 1, 500] | None = None,
        max_megapixels: app_commands.Range[float, 0.01, 64.0] | None = None,
        negative: app_commands.Range[str, 1, 1000] | None = None,
        image_prompts: bool | None = None,
        unsafe_images: NsfwChannelMode | None = None,
    ) -> None:
        """Save this channel's choices."""
        changes = PlaceChanges(
            model, style, max_steps, max_megapixels, negative, image_prompts, unsafe_images
        )
        here = interaction.channel
        saved = await self._service.change_place(
            self._actor(interaction),
            interaction.channel_id,
            changes,
            nsfw_channel=isinstance(here, discord.TextChannel) and here.is_nsfw(),
        )
        await reply_privately(interaction, f"This channel now has: {describe_place(saved)}.")

    @settings.command(name="reset", description="Forget a server or channel setting (moderators)")
    @app_commands.describe(
        where="The server's settings or this channel's", setting="All if left out"
    )
    async def reset(
        self,
        interaction: discord.Interaction,
        where: Where,
        setting: PlaceSetting | None = None,
    ) -> None:
        """Forget one setting, or all of them, of the server or this channel."""
        channel_id = interaction.channel_id if where == "channel" else None
        saved = await self._service.reset_place(self._actor(interaction), channel_id, setting)
        place = "This server" if where == "server" else "This channel"
        await reply_privately(interaction, f"{place} now has: {describe_place(saved)}.")

    # /prefer

    @prefer.command(name="set", description="Choose your own defaults in this server")
    @app_commands.describe(
        aspect="Your default aspect ratio, like 16:9",
        style="Your default style preset (raw: none)",
        model="Your default model (see /models)",
        no="What your images avoid unless a prompt gives its own --no",
    )
    async def prefer_set(
        self,
        interaction: discord.Interaction,
        aspect: app_commands.Range[str, 1, 16] | None = None,
        style: app_commands.Range[str, 1, 32] | None = None,
        model: app_commands.Range[str, 1, 64] | None = None,
        no: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        """Save the member's preferences."""
        saved = await self._service.prefer(
            self._actor(interaction), aspect=aspect, style=style, model=model, avoid=no
        )
        await reply_privately(interaction, f"Your defaults here: {describe_member(saved)}.")

    @prefer.command(name="reset", description="Forget one of your defaults, or all of them")
    async def prefer_reset(
        self, interaction: discord.Interaction, setting: PreferenceSetting | None = None
    ) -> None:
        """Forget the member's preferences."""
        saved = await self._service.reset_preferences(self._actor(interaction), setting)
        await reply_privately(interaction, f"Your defaults here: {describe_member(saved)}.")

    @prefer.command(name="show", description="Show your own defaults in this server")
    async def prefer_show(self, interaction: discord.Interaction) -> None:
        """Describe the member's preferences."""
        layers = self._service.layers(
            interaction.guild_id, interaction.channel_id, interaction.user.id
        )
        await reply_privately(interaction, f"Your defaults here: {describe_member(layers.member)}.")

    # Autocomplete

    @server.autocomplete("model")
    @channel.autocomplete("model")
    @prefer_set.autocomplete("model")
    async def _model_choices(
        self, _interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the configured model names matching what was typed."""
        return [_choice(name) for name in self._roster.matching(typed)]

    @server.autocomplete("style")
    @channel.autocomplete("style")
    @prefer_set.autocomplete("style")
    async def _style_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """Offer this server's style names matching what was typed."""
        names = self._service.styles.matching(interaction.guild_id, typed)
        return [_choice(name) for name in names]


def _choice(name: str) -> app_commands.Choice[str]:
    """Return an autocomplete choice showing and giving ``name``."""
    return app_commands.Choice(name=name, value=name)


def describe_layers(layers: Layers) -> str:
    """Describe each layer, narrowest last, then what they give a job here."""
    return "\n".join(
        [
            "Defaults go server < channel < you < your prompt.",
            f"**Server**: {describe_place(layers.server)}",
            f"**This channel**: {describe_place(layers.channel)}",
            f"**You**: {describe_member(layers.member)}",
            f"**In effect here**: {describe_settled(layers.settled)}",
        ]
    )


def describe_place(place: PlaceDefaults | None) -> str:
    """Describe what a server or channel chose."""
    if place is None:
        return NOTHING
    parts = [
        f"model `{place.model}`" if place.model else "",
        f"style `{place.style}`" if place.style else "",
        f"at most {place.max_steps} steps" if place.max_steps else "",
        f"at most {place.max_pixels / 1e6:g} MP" if place.max_pixels else "",
        f"always avoids `{place.enforced_negative[:200]}`" if place.enforced_negative else "",
        "" if place.image_prompts is None else f"image prompts {_on(place.image_prompts)}",
        f"unsafe images (age-restricted channels): {place.unsafe_images}"
        if place.unsafe_images
        else "",
    ]
    return " · ".join(part for part in parts if part) or NOTHING


def describe_member(member: MemberPreferences | None) -> str:
    """Describe a member's own defaults."""
    if member is None:
        return NOTHING
    parts = [
        f"--ar {member.aspect}" if member.aspect else "",
        f"style `{member.style}`" if member.style else "",
        f"model `{member.model}`" if member.model else "",
        f"--no {member.avoid[:200]}" if member.avoid else "",
    ]
    return " · ".join(part for part in parts if part) or NOTHING


def describe_settled(settled: JobSettings) -> str:
    """Describe what the layers give a job here; what is not listed follows the config."""
    defaults = settled.defaults
    parts = [
        f"model `{defaults.model}`" if defaults.model else "",
        f"style `{defaults.style}`" if defaults.style else "",
        f"--ar {defaults.aspect}" if defaults.aspect else "",
        f"--no {defaults.avoid[:200]}" if defaults.avoid else "",
        f"at most {defaults.max_steps} steps" if defaults.max_steps else "",
        f"at most {defaults.max_pixels / 1e6:g} MP" if defaults.max_pixels else "",
        f"always avoids `{defaults.enforced_negative[:300]}`" if defaults.enforced_negative else "",
        f"image prompts {_on(settled.image_prompts)}",
        f"unsafe images (if age-restricted): {settled.unsafe_images}"
        if settled.unsafe_images
        else "",
    ]
    return " · ".join(part for part in parts if part)


def _on(flag: bool) -> str:
    """Say on or off."""
    return "on" if flag else "off"
