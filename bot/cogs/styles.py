"""/style add|remove|list: a server's own style presets, beside config.yaml's.

Members may list the styles (their names: a preset's text is the server's recipe and stays
hidden, as ``/info`` keeps it); moderators also see the templates of the server's own, and
alone may add or remove them, checked when the command runs
(:class:`~bot.server_styles.ServerStyles` refuses others).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.model_roster import AUTOCOMPLETE_LIMIT
from bot.permissions import Actor
from bot.replies import reply_privately

if TYPE_CHECKING:
    from bot.job_defaults import ServerStyle
    from bot.model_roster import ModelRoster
    from bot.server_styles import ServerStyles


class StylesCog(commands.Cog):
    """A server's style presets: ``--style NAME`` wraps the prompt in a hidden template."""

    style = app_commands.Group(
        name="style", description="This server's style presets (--style NAME)", guild_only=True
    )

    def __init__(
        self, styles: ServerStyles, roster: ModelRoster, *, moderator_role: str | None
    ) -> None:
        self._styles = styles
        self._roster = roster
        self._moderator_role = moderator_role

    def _actor(self, interaction: discord.Interaction) -> Actor:
        """Return who runs the command."""
        return Actor.of(interaction, self._moderator_role)

    @style.command(name="add", description="Add or replace a style preset (moderators)")
    @app_commands.describe(
        name="What members type after --style",
        prompt="The template: {prompt} marks where the member's prompt goes",
        negative="What the style avoids (added to the negative prompt)",
        model="The model the style draws with unless the prompt names one",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 32],
        prompt: app_commands.Range[str, 1, 1000],
        negative: app_commands.Range[str, 1, 1000] | None = None,
        model: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        """Save a server style."""
        saved, replaced = await self._styles.add(
            self._actor(interaction), name, prompt, negative or "", model
        )
        verb = "Replaced" if replaced else "Added"
        await reply_privately(
            interaction,
            f"{verb} the style `{saved.name}`: members use it with --style {saved.name}.",
        )

    @style.command(
        name="remove", description="Remove one of this server's style presets (moderators)"
    )
    async def remove(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 32]
    ) -> None:
        """Delete a server style."""
        removed = await self._styles.remove(self._actor(interaction), name)
        await reply_privately(interaction, f"Removed the style `{removed.name}`.")

    @style.command(name="list", description="List the style presets --style takes here")
    async def listing(self, interaction: discord.Interaction) -> None:
        """Name every style; show moderators the server's own templates."""
        actor = self._actor(interaction)
        own = self._styles.of(actor.guild_id)
        shared = self._styles.config_names()
        lines = ["**Styles here** (`--style NAME`; `--style raw` for none):"]
        if shared:
            lines.append(f"Every server: {', '.join(shared)}")
        if own and actor.moderator:
            lines += [_described(style) for style in own]
        elif own:
            lines.append(f"This server's: {', '.join(style.name for style in own)}")
        if not own:
            lines.append("This server has no styles of its own yet (moderators: /style add).")
        await reply_privately(interaction, "\n".join(lines)[:1990])

    @remove.autocomplete("name")
    async def _own_style_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """Offer this server's own style names matching what was typed."""
        needle = typed.casefold().strip()
        names = [s.name for s in self._styles.of(interaction.guild_id)]
        return [_choice(n) for n in names if needle in n.casefold()][:AUTOCOMPLETE_LIMIT]

    @add.autocomplete("model")
    async def _model_choices(
        self, _interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the configured model names matching what was typed."""
        return [_choice(name) for name in self._roster.matching(typed)]


def _choice(name: str) -> app_commands.Choice[str]:
    """Return an autocomplete choice showing and giving ``name``."""
    return app_commands.Choice(name=name, value=name)


def _described(style: ServerStyle) -> str:
    """Describe a server style with its hidden text (for moderators)."""
    extra = [f"avoids `{style.negative[:150]}`" if style.negative else ""]
    extra.append(f"model `{style.model}`" if style.model else "")
    details = "".join(f" · {part}" for part in extra if part)
    return f"• `{style.name}`: `{style.prompt[:300]}`{details}"
