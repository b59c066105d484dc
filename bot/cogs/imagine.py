"""/imagine, /info and /queue: the commands every member uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

if TYPE_CHECKING:
    from bot.actions import JobActions
    from bot.model_roster import ModelRoster


@app_commands.guild_only()
class ImagineCog(commands.Cog):
    """Draw images, look up a job's parameters, and see or cancel queued jobs."""

    def __init__(self, actions: JobActions, roster: ModelRoster) -> None:
        self._actions = actions
        self._roster = roster

    @app_commands.command(name="imagine", description="Draw four images from a prompt")
    @app_commands.describe(
        prompt="What to draw. Add parameters at the end: --ar 16:9 --seed 7 --no text",
        negative="What to keep out of the image",
        image="An image to start from (PNG, JPEG or WebP)",
        model="Which model draws it (see /models); the server's default if left out",
    )
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 4000],
        negative: app_commands.Range[str, 1, 2000] | None = None,
        image: discord.Attachment | None = None,
        model: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        """Queue a grid of four images."""
        await self._actions.imagine(interaction, prompt, negative, image, model)

    @imagine.autocomplete("model")
    async def _model_choices(
        self, _interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the configured model names matching what was typed."""
        return [app_commands.Choice(name=name, value=name) for name in self._roster.matching(typed)]

    @app_commands.command(name="info", description="Show the full parameters and seeds of a job")
    @app_commands.describe(job="The job id shown under a result")
    async def info(
        self, interaction: discord.Interaction, job: app_commands.Range[str, 1, 64]
    ) -> None:
        """Show a job's parameters privately."""
        await self._actions.info(interaction, job)

    @app_commands.command(name="queue", description="See your queued jobs and cancel them")
    async def queue(self, interaction: discord.Interaction) -> None:
        """List the caller's jobs (everyone's for moderators)."""
        await self._actions.show_queue(interaction)
