"""The composition root: config → logging → engines → database → scheduler → services → bot.

Everything Easel runs is built here and only here, in dependency order, and each part gets
exactly the collaborators it uses. ``python -m bot`` calls :func:`configure`,
:func:`load_engines` and :func:`build_app`; ``--check`` loads the model and opens the
database with the same functions; the tests call :func:`build_app` with their own engines,
clock and classifier. :meth:`EaselApp.shutdown` stops it all in order.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.actions import ActionServices, JobActions
from bot.buttons import JobButtons
from bot.client import BotParts, EaselBot
from bot.cogs.guide import GuideCog
from bot.cogs.imagine import ImagineCog
from bot.cogs.moderation import ModerationCog
from bot.config import load_bot_config
from bot.courier import Courier
from bot.delivery import JobDelivery
from bot.in_flight import InFlight
from bot.logs import setup_logging
from bot.maintenance import Maintenance
from bot.moderation.admin import ModerationAdmin
from bot.moderation.gate import ModerationGate
from bot.moderation.image_safety import NudeNetClassifier
from bot.outbox import Outbox
from bot.store.database import Database
from bot.store.deliveries import DeliveryStore
from bot.store.jobs import SqliteJobStore
from bot.store.moderation import ModerationStore
from bot.store.outbox import OutboxStore
from pipeline.engine import Engine
from pipeline.jobs import job_cost
from pipeline.scheduler import JobScheduler

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from bot.config import BotConfig
    from bot.moderation.image_safety import SafetyClassifier
    from pipeline.batch_runner import BatchEngine

logger = logging.getLogger(__name__)

SHUTDOWN_DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class Stores:
    """The repositories over the one database."""

    jobs: SqliteJobStore
    deliveries: DeliveryStore
    outbox: OutboxStore
    moderation: ModerationStore


@dataclass(frozen=True)
class EaselApp:
    """Every running part of Easel, built by :func:`build_app`."""

    config: BotConfig
    database: Database
    stores: Stores
    scheduler: JobScheduler
    moderation: ModerationGate
    outbox: Outbox
    delivery: JobDelivery
    actions: JobActions
    in_flight: InFlight
    bot: EaselBot

    async def shutdown(self) -> None:
        """Stop cleanly, in order, so no user is left without an answer.

        New commands are refused, those in flight finish queueing their jobs, running jobs
        finish or are interrupted (to run again after the restart), then the gateway closes.
        Calling it again does nothing more.
        """
        if self.bot.is_closed():
            return
        await self.in_flight.close(drain_seconds=SHUTDOWN_DRAIN_SECONDS)
        await self.scheduler.shutdown()
        await self.delivery.close()
        await self.bot.stop()

    async def close(self) -> None:
        """Close the database (after :meth:`shutdown`)."""
        await self.database.close()


def configure(config_path: Path, token: str) -> BotConfig:
    """Load and validate the config, then send logs where it says (the token redacted).

    Raises ConfigError, naming every bad key, before anything else is started.
    """
    config = load_bot_config(config_path)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    setup_logging(config, token)
    return config


def load_engine(config: BotConfig, device: str) -> Engine:
    """Load the configured model on one device (slow: run it on a thread)."""
    model = config.model.model_copy(update={"device": device})
    return Engine.from_config(config.model_copy(update={"model": model}))


def load_engines(config: BotConfig) -> list[Engine]:
    """Load the model once per configured device, one engine (and worker) each."""
    devices = config.queue.devices or (config.model.device,)
    engines = [load_engine(config, device) for device in devices]
    logger.info("model %s ready on %s", config.model.path, ", ".join(devices))
    return engines


async def open_database(config: BotConfig) -> Database:
    """Open the database in the data directory, migrated to the latest schema."""
    return await Database.open(config.database_path)


async def build_app(
    config: BotConfig,
    engines: Sequence[Engine],
    *,
    queue_engines: Sequence[BatchEngine] | None = None,
    clock: Callable[[], float] = time.time,
    classifier: SafetyClassifier | None = None,
) -> EaselApp:
    """Open the database and build every part around the loaded engines.

    ``queue_engines`` lets a test wrap the engines the scheduler runs (to pause or fail
    them); the use cases always build requests with ``engines[0]``.
    """
    database = await open_database(config)
    stores = Stores(
        SqliteJobStore(database),
        DeliveryStore(database),
        OutboxStore(database),
        ModerationStore(database),
    )
    scheduler = _scheduler(config, engines, queue_engines, stores.jobs)
    bot = EaselBot(guild_ids=config.discord.guild_ids, heartbeat_path=config.heartbeat_path)
    if classifier is None and config.moderation.image_check:
        classifier = NudeNetClassifier(config.moderation.safety_threshold)
    gate = ModerationGate(
        config.moderation, stores.moderation, bot.post_quietly, classifier, clock=clock
    )
    buttons = JobButtons()
    courier = Courier(bot, stores.deliveries, gate, buttons, clock=clock)
    outbox = Outbox(stores.outbox, stores.jobs, courier, clock=clock)
    delivery = JobDelivery(
        bot, courier, outbox, progress_interval=config.discord.progress_interval, clock=clock
    )
    in_flight = InFlight()
    actions = JobActions(
        ActionServices(
            engine=engines[0],
            scheduler=scheduler,
            jobs=stores.jobs,
            deliveries=stores.deliveries,
            outbox=stores.outbox,
            delivery=delivery,
            moderation=gate,
            buttons=buttons,
            inputs_dir=config.inputs_dir,
            moderator_role=config.discord.moderator_role,
            clock=clock,
        ),
        in_flight,
    )
    actions.register_buttons(buttons)
    app = EaselApp(
        config, database, stores, scheduler, gate, outbox, delivery, actions, in_flight, bot
    )
    bot.install(_bot_parts(app, buttons, Maintenance(config, database, clock=clock)))
    return app


def _scheduler(
    config: BotConfig,
    engines: Sequence[Engine],
    queue_engines: Sequence[BatchEngine] | None,
    jobs: SqliteJobStore,
) -> JobScheduler:
    """Build the job scheduler: one worker per engine, reloading an engine the GPU broke."""
    devices = config.queue.devices or (config.model.device,)

    def rebuild(index: int) -> BatchEngine:
        return load_engine(config, devices[index])

    return JobScheduler(
        list(queue_engines or engines),
        jobs,
        config.queue,
        output_dir=config.outputs_dir,
        quantum=job_cost(engines[0].parse("a default job")),
        # Wrapped engines (the tests') cannot be rebuilt as themselves: no reload for them.
        rebuild_engine=None if queue_engines else rebuild,
    )


def _bot_parts(app: EaselApp, buttons: JobButtons, maintenance: Maintenance) -> BotParts:
    """Choose the cogs and the start-up and background work the client runs."""
    role = app.config.discord.moderator_role
    stores, scheduler, delivery = app.stores, app.scheduler, app.delivery
    admin = ModerationAdmin(stores.moderation, app.moderation, scheduler)

    async def resume() -> None:
        """Owe the outcomes left undelivered, and follow the jobs the queue recovered."""
        await app.outbox.resume(await stores.deliveries.undelivered())
        for handle in await scheduler.start():
            delivery.follow(handle)

    return BotParts(
        cogs=[
            ImagineCog(app.actions),
            GuideCog(stores.jobs, scheduler, moderator_role=role),
            ModerationCog(admin, moderator_role=role),
        ],
        buttons=buttons,
        resume=resume,
        background=[app.moderation.warm_up, maintenance.run_forever, app.outbox.run_forever],
    )
