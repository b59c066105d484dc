"""The one error path: user errors get a private reply, anything else an apology with an id.

Commands, buttons and the command tree's own failures all end here, so every interaction is
answered the same way: a :class:`~pipeline.errors.UserError` becomes one ephemeral message in
its own words; anything unexpected becomes one logged traceback and one apology naming an
error id that the owner can find in the log.
"""

from __future__ import annotations

import logging
import secrets

import discord
from discord import app_commands

from pipeline.errors import UserError

logger = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on our side (error id `{reference}`)."


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """Tell only the user, taking back a public "thinking" placeholder if one was posted."""
    quiet = discord.AllowedMentions.none()
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=quiet)
            return
        # A follow-up after a public defer would be public; remove the placeholder first.
        if interaction.response.type == discord.InteractionResponseType.deferred_channel_message:
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                logger.info("could not remove the placeholder for interaction %s", interaction.id)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=quiet)
    except discord.HTTPException:
        logger.exception("could not tell user %s: %s", interaction.user.id, text)


async def answer_error(interaction: discord.Interaction, error: BaseException, where: str) -> None:
    """Answer a failed interaction: the user's own mistake privately, else an apology."""
    if isinstance(error, UserError):
        await reply_privately(interaction, str(error))
        return
    reference = secrets.token_hex(4)
    logger.error(
        "error %s in %s for user %s", reference, where, interaction.user.id, exc_info=error
    )
    await reply_privately(interaction, APOLOGY.format(reference=reference))


async def on_command_error(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    """Answer a slash command that raised, or that discord.py could not even prepare."""
    if isinstance(error, app_commands.CheckFailure) and interaction.response.is_done():
        return  # the check answered already
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    command = interaction.command.qualified_name if interaction.command else "?"
    await answer_error(interaction, original, f"command {command}")
