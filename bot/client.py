"""The Discord client: installs the parts the composition root built, and runs their lifecycle.

The client knows no use case. :mod:`bot.app` builds the cogs, the buttons and the services
and hands them over as :class:`BotParts`; ``setup_hook`` registers them, resumes unfinished
work, starts the background loops and publishes the commands.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.health import beat_forever, write_heartbeat
from bot.replies import on_command_error

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Sequence
    from pathlib import Path

    from bot.buttons import JobButtons
    from bot.edit_forms import JobForms

logger = logging.getLogger(__name__)


def easel_intents() -> discord.Intents:
    """Return the intents Easel needs: guilds only (no privileged intents at all)."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


@dataclass(frozen=True)
class BotParts:
    """What the client runs: commands, buttons, start-up work and background loops."""

    cogs: Sequence[commands.Cog]
    buttons: JobButtons
    forms: JobForms
    resume: Callable[[], Awaitable[None]]
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]]


class EaselBot(commands.Bot):
    """Easel on Discord: slash commands and buttons in front of the job queue."""

    def __init__(self, *, guild_ids: Sequence[int], heartbeat_path: Path) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=easel_intents(),
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.guild_ids = tuple(guild_ids)
        self.heartbeat_path = heartbeat_path
        self.parts: BotParts | None = None
        self._background: set[asyncio.Task[None]] = set()

    def install(self, parts: BotParts) -> None:
        """Take the parts to run (once, before the bot starts)."""
        self.parts = parts

    async def setup_hook(self) -> None:
        """Register commands and buttons, resume unfinished work, and sync the commands."""
        if self.parts is None:
            raise RuntimeError("the composition root installs the bot's parts before it starts")
        self.tree.error(on_command_error)
        self.add_dynamic_items(self.parts.buttons.item_type)
        for cog in self.parts.cogs:
            await self.add_cog(cog)
        await self.parts.resume()
        for work in self.parts.background:
            self._in_background(work())
        self._in_background(
            beat_forever(self.heartbeat_path, lambda: self.is_ready() and not self.is_closed())
        )
        await self._sync_commands()

    async def post_quietly(self, guild_id: int, channel_id: int, text: str) -> None:
        """Post a line to a channel without mentioning anyone; a failure is only logged."""
        channel = self.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as error:
            logger.warning(
                "could not post to channel %s of guild %s: %s", channel_id, guild_id, error
            )

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Hand submitted forms to their handlers (modals are not kept across restarts)."""
        if self.parts is not None and interaction.type == discord.InteractionType.modal_submit:
            await self.parts.forms.dispatch(interaction)

    async def on_ready(self) -> None:
        """Record in the heartbeat that the gateway is connected."""
        write_heartbeat(self.heartbeat_path, connected=True)

    async def on_resumed(self) -> None:
        """Record in the heartbeat that the gateway is connected again."""
        write_heartbeat(self.heartbeat_path, connected=True)

    async def on_disconnect(self) -> None:
        """Record in the heartbeat that the gateway dropped (it usually reconnects)."""
        write_heartbeat(self.heartbeat_path, connected=False)

    async def stop(self) -> None:
        """Cancel the background loops, mark the heartbeat disconnected, close the gateway."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        write_heartbeat(self.heartbeat_path, connected=False)
        await self.close()

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run work in the background, cancelled at shutdown and logged if it fails."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._finished_in_background)

    def _finished_in_background(self, task: asyncio.Task[None]) -> None:
        """Forget a finished background task, logging it if it failed."""
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a background task failed", exc_info=task.exception())

    async def _sync_commands(self) -> None:
        """Publish the slash commands: to the configured guilds at once, else globally."""
        if self.guild_ids:
            for guild_id in self.guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            logger.info("commands synced to %d guild(s)", len(self.guild_ids))
        else:
            await self.tree.sync()
            logger.info("commands synced globally")
