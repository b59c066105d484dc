"""The Discord client: Easel's typed services, its commands and buttons, and start-up work."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.actions import JobActions, Services
from bot.buttons import JobButton
from bot.cogs.guide import GuideCog
from bot.cogs.imagine import ImagineCog
from bot.cogs.moderation import ModerationCog
from bot.delivery import JobDelivery
from bot.health import beat_forever, write_heartbeat
from bot.maintenance import Maintenance
from bot.moderation.image_safety import NudeNetClassifier
from bot.moderation.service import ModerationService
from bot.store.deliveries import DeliveryStore
from bot.store.jobs import SqliteJobStore
from bot.store.moderation import ModerationStore

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from bot.config import BotConfig
    from bot.moderation.image_safety import SafetyClassifier
    from bot.store.database import Database
    from pipeline.engine import Engine
    from pipeline.scheduler import JobScheduler

logger = logging.getLogger(__name__)

SHUTDOWN_DRAIN_SECONDS = 5.0


def easel_intents() -> discord.Intents:
    """Return the intents Easel needs: guilds only (no privileged intents at all)."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class EaselBot(commands.Bot):
    """Easel on Discord: slash commands and buttons in front of the job queue."""

    def __init__(
        self,
        *,
        config: BotConfig,
        engine: Engine,
        scheduler: JobScheduler,
        database: Database,
        clock: Callable[[], float] = time.time,
        classifier: SafetyClassifier | None = None,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=easel_intents(),
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.config = config
        self.scheduler = scheduler
        self.jobs = SqliteJobStore(database)
        self.deliveries = DeliveryStore(database)
        self.moderation = ModerationStore(database)
        if classifier is None and config.moderation.image_check:
            classifier = NudeNetClassifier(config.moderation.safety_threshold)
        self.guard = ModerationService(config, self.moderation, self, classifier, clock=clock)
        self.presenter = JobDelivery(
            self,
            self.deliveries,
            self.guard,
            progress_interval=config.discord.progress_interval,
            clock=clock,
        )
        self.studio = JobActions(
            Services(
                config=config,
                engine=engine,
                scheduler=scheduler,
                jobs=self.jobs,
                presenter=self.presenter,
                guard=self.guard,
                clock=clock,
            )
        )
        self.maintenance = Maintenance(config, database, clock=clock)
        self._background: set[asyncio.Task[None]] = set()

    async def setup_hook(self) -> None:
        """Register commands and buttons, resume unfinished work, and sync the commands."""
        self.tree.error(self._on_command_error)
        self.add_dynamic_items(JobButton)
        await self.add_cog(ImagineCog(self.studio))
        await self.add_cog(GuideCog(self))
        await self.add_cog(ModerationCog(self))
        await self._resume_jobs()
        self._in_background(self.guard.warm_up())
        self._in_background(self.maintenance.run_forever())
        self._in_background(
            beat_forever(
                self.config.heartbeat_path, lambda: self.is_ready() and not self.is_closed()
            )
        )
        await self._sync_commands()

    async def _on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Answer any command that failed unexpectedly: log it, apologise with an error id."""
        reference = secrets.token_hex(4)
        logger.error(
            "error %s in command %s for user %s",
            reference,
            interaction.command.qualified_name if interaction.command else "?",
            interaction.user.id,
            exc_info=error,
        )
        await self.studio.refuse(
            interaction, f"Sorry, something went wrong on our side (error id `{reference}`)."
        )

    async def on_ready(self) -> None:
        """Record in the heartbeat that the gateway is connected."""
        write_heartbeat(self.config.heartbeat_path, connected=True)

    async def on_resumed(self) -> None:
        """Record in the heartbeat that the gateway is connected again."""
        write_heartbeat(self.config.heartbeat_path, connected=True)

    async def on_disconnect(self) -> None:
        """Record in the heartbeat that the gateway dropped (it usually reconnects)."""
        write_heartbeat(self.config.heartbeat_path, connected=False)

    async def shutdown(self) -> None:
        """Stop cleanly, in order, so no user is left without an answer.

        New commands are refused, those in flight finish queueing their jobs, running jobs
        finish or are interrupted (to run again after the restart), then the gateway closes.
        """
        await self.studio.close(drain_seconds=SHUTDOWN_DRAIN_SECONDS)
        await self.scheduler.shutdown()
        await self.presenter.close()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        write_heartbeat(self.config.heartbeat_path, connected=False)
        await self.close()

    async def _resume_jobs(self) -> None:
        """Deliver jobs that finished unannounced, and follow jobs the queue recovered."""
        undelivered = await self.deliveries.undelivered()
        for handle in await self.scheduler.start():
            self.presenter.follow(handle)
        for job in undelivered:
            logger.info("delivering job %s, which finished before the restart", job.id)
            self._in_background(self.presenter.deliver_finished(job, None))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run work in the background, cancelled at shutdown and logged if it fails."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._finished_in_background)

    def _finished_in_background(self, task: asyncio.Task[None]) -> None:
        """Forget a finished background task, logging it if it failed."""
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a background delivery failed", exc_info=task.exception())

    async def _sync_commands(self) -> None:
        """Publish the slash commands: to the configured guilds at once, else globally."""
        if self.config.discord.guild_ids:
            for guild_id in self.config.discord.guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            logger.info("commands synced to %d guild(s)", len(self.config.discord.guild_ids))
        else:
            await self.tree.sync()
            logger.info("commands synced globally")
