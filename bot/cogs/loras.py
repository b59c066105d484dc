"""/loras: the LoRAs members can add to a prompt, with their families and trigger words."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from pipeline.families import family_named

if TYPE_CHECKING:
    from bot.model_roster import ModelRoster
    from pipeline.loras import LoraCatalog, LoraFile

LISTED_AT_MOST = 40  # an embed's description holds 4096 characters
AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 choices


def lora_line(lora: LoraFile) -> str:
    """Describe one LoRA: its name, the family it fits and the words that trigger it."""
    family = family_named(lora.family).label if lora.family else "family unknown"
    line = f"**{lora.name}** · {family}"
    if lora.triggers:
        line += " · triggers: " + ", ".join(f"`{word}`" for word in lora.triggers)
    return line[:200]


def loras_listing(loras: list[LoraFile], *, model: str | None) -> discord.Embed:
    """Build the /loras answer: one line per LoRA, and how to use one."""
    title = f"LoRAs for {model}" if model else "LoRAs"
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    if not loras:
        embed.description = (
            "No LoRAs fit that model." if model else "This server offers no LoRAs yet."
        )
        return embed
    lines = [lora_line(lora) for lora in loras[:LISTED_AT_MOST]]
    if len(loras) > LISTED_AT_MOST:
        lines.append(f"… and {len(loras) - LISTED_AT_MOST} more (type in /imagine's lora option).")
    embed.description = "\n".join(lines)
    embed.set_footer(
        text="Add one with --lora NAME or --lora NAME:0.8 (weights -2 to 2), "
        "or <lora:NAME:0.8> in the prompt; add its trigger words to the prompt."
    )
    return embed


class LorasCog(commands.Cog):
    """List the LoRAs this server offers."""

    def __init__(self, loras: LoraCatalog, roster: ModelRoster) -> None:
        self._loras = loras
        self._roster = roster

    @app_commands.command(name="loras", description="The LoRAs you can add with --lora")
    @app_commands.describe(model="Only the LoRAs that fit this model (see /models)")
    async def loras(
        self, interaction: discord.Interaction, model: app_commands.Range[str, 1, 64] | None = None
    ) -> None:
        """Send the list privately: name, family, trigger words."""
        files = self._loras.files()
        if model is not None:
            family = self._roster.family_of(model)
            files = [lora for lora in files if lora.family in (None, family)]
        await interaction.response.send_message(
            embed=loras_listing(files, model=model), ephemeral=True
        )

    @loras.autocomplete("model")
    async def _model_choices(
        self, _interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the configured model names matching what was typed."""
        return [app_commands.Choice(name=name, value=name) for name in self._roster.matching(typed)]


def lora_choices(loras: LoraCatalog, typed: str) -> list[app_commands.Choice[str]]:
    """Offer LoRA names containing what was typed, with their family, for autocomplete."""
    choices = []
    for lora in loras.matching(typed, AUTOCOMPLETE_LIMIT):
        family = family_named(lora.family).label if lora.family else "?"
        choices.append(app_commands.Choice(name=f"{lora.name} ({family})"[:100], value=lora.name))
    return choices
