"""The one error path: user errors get a private reply, anything else an apology with an id.

Commands, buttons and the command tree's own failures all end here, so every interaction is
answered the same way: a :class:`~pipeline.errors.UserError` becomes one ephemeral message in
its own words; anything unexpected becomes one logged traceback and one apology naming an
error id that the owner can find in the log. Acknowledging (``acknowledge``) lives here too:
it is the first answer of every use case that queues a job.
"""

from __future__ import annotations

import contextlib
import logging
import secrets

import aiohttp
import discord
from discord import app_commands

from pipeline.errors import UserError

logger = logging.getLogger(__name__)

ALREADY_ACKNOWLEDGED = 40060
DISCORD_TROUBLE = (
    "Discord is having trouble right now, so this did not go through; try again in a minute."
)
APOLOGY = "Sorry, something went wrong on our side (error id `{reference}`)."


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """Tell only the user, taking back a public "thinking" placeholder if one was posted."""
    quiet = discord.AllowedMentions.none()
    response = interaction.response
    placeholder = response.type == discord.InteractionResponseType.deferred_channel_message
    try:
        if not response.is_done():
            try:
                await response.send_message(text, ephemeral=True, allowed_mentions=quiet)
                return
            except discord.HTTPException as error:
                if error.code != ALREADY_ACKNOWLEDGED:
                    raise
                placeholder = True  # a defer reached Discord though its answer was lost
        # A follow-up after a public defer would be public; remove the placeholder first.
        if placeholder:
            with contextlib.suppress(discord.HTTPException, aiohttp.ClientError):
                await interaction.delete_original_response()
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=quiet)
    except (discord.HTTPException, aiohttp.ClientError) as error:
        # A lost answer may still have been delivered: never tell the user twice. Discord
        # down, or the interaction expired meanwhile, is Discord's state, not our bug: one line.
        logger.warning("could not tell user %s (%r): %s", interaction.user.id, error, text)


async def answer_error(interaction: discord.Interaction, error: BaseException, where: str) -> None:
    """Answer a failed interaction: the user's own mistake privately, else an apology."""
    if isinstance(error, UserError):
        await reply_privately(interaction, str(error))
        return
    if isinstance(error, aiohttp.ClientError):
        # The connection dropped before Discord's answer: what was sent may well have
        # arrived, so an apology now could contradict it.
        logger.warning(
            "lost Discord's answer in %s for user %s: %r", where, interaction.user.id, error
        )
        return
    if isinstance(error, discord.DiscordServerError):
        # Discord itself failed (a 5xx its retries did not outlast): not a bug of ours, and
        # nothing was accepted yet, so one line says it without a traceback.
        logger.warning(
            "Discord failed (%s) in %s for user %s", error.status, where, interaction.user.id
        )
        await reply_privately(interaction, DISCORD_TROUBLE)
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


async def acknowledge(interaction: discord.Interaction) -> int:
    """Defer publicly ("thinking…") and return the placeholder message's id.

    When the connection drops before Discord's answer, the defer may still have been applied:
    the placeholder then exists, and the job goes on with it rather than being dropped.
    """
    try:
        response = await interaction.response.defer(thinking=True)
    except aiohttp.ClientError:
        logger.info("the answer to deferring interaction %s was lost; looking", interaction.id)
        return (await interaction.original_response()).id  # NotFound: it never arrived
    message_id = getattr(response, "message_id", None)
    if message_id is None:
        message_id = (await interaction.original_response()).id
    return int(message_id)
