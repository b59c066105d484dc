"""/imagine, /info and /queue: the commands every member uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.loras import lora_choices

if TYPE_CHECKING:
    from bot.actions import JobActions
    from bot.model_roster import ModelRoster
    from pipeline.loras import LoraCatalog


@app_commands.guild_only()
class ImagineCog(commands.Cog):
    """Draw images, look up a job's parameters, and see or cancel queued jobs."""

    def __init__(self, actions: JobActions, roster: ModelRoster, loras: LoraCatalog) -> None:
        self._actions = actions
        self._roster = roster
        self._loras = loras

    @app_commands.command(name="imagine", description="Draw four images from a prompt")
    @app_commands.describe(
        prompt="What to draw. Add parameters at the end: --ar 16:9 --seed 7 --no text",
        negative="What to keep out of the image",
        image="An image to start from (PNG, JPEG or WebP)",
        model="Which model draws it (see /models); the server's default if left out",
        lora="A LoRA to add (see /loras); more with --lora NAME:WEIGHT in the prompt",
        control="A sketch or image whose layout guides the drawing (--control canny|scribble…)",
    )
    async def imagine(  # noqa: PLR0917 - discord.py passes each option as an argument
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 4000],
        negative: app_commands.Range[str, 1, 2000] | None = None,
        image: discord.Attachment | None = None,
        model: app_commands.Range[str, 1, 64] | None = None,
        lora: app_commands.Range[str, 1, 64] | None = None,
        control: discord.Attachment | None = None,
    ) -> None:
        """Queue a grid of four images (the lora option is the same as --lora in the prompt)."""
        if lora is not None:
            prompt = f"{prompt} --lora {lora.strip()}"
        await self._actions.imagine(interaction, prompt, negative, image, model, control=control)

    @imagine.autocomplete("model")
    async def _model_choices(
        self, _interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the configured model names matching what was typed."""
        return [app_commands.Choice(name=name, value=name) for name in self._roster.matching(typed)]

    @imagine.autocomplete("lora")
    async def _lora_choices(
        self, _interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the LoRA names matching what was typed."""
        return lora_choices(self._loras, typed)

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
