"""/models: which models this server can draw with, and which are ready now."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages

if TYPE_CHECKING:
    from bot.model_roster import ModelRoster


class ModelsCog(commands.Cog):
    """List the configured models."""

    def __init__(self, roster: ModelRoster) -> None:
        self._roster = roster

    @app_commands.command(name="models", description="The models you can draw with (--model)")
    async def models(self, interaction: discord.Interaction) -> None:
        """Send the list of models privately: name, family, size, loaded or not, default."""
        await interaction.response.send_message(
            messages.models_listing(self._roster.lines()), ephemeral=True
        )
