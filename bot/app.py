"""The composition root: config → logging → engines → database → scheduler → services → bot.

Everything Easel runs is built here and only here, in dependency order, and each part gets
exactly the collaborators it uses. ``python -m bot`` calls :func:`configure`,
:func:`load_engines` (one :class:`ModelPool` per worker) and :func:`build_app`; ``--check``
loads every model and opens the database with the same functions; the tests call
:func:`build_app` with their own pools, clock and classifier. :meth:`EaselApp.shutdown`
stops it all in order.
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
from bot.cogs.loras import LorasCog
from bot.cogs.models import ModelsCog
from bot.cogs.moderation import ModerationCog
from bot.cogs.settings import SettingsCog
from bot.cogs.styles import StylesCog
from bot.config import load_bot_config
from bot.courier import Courier
from bot.delivery import JobDelivery
from bot.edit_actions import EditActions
from bot.edit_forms import JobForms
from bot.in_flight import InFlight
from bot.logs import setup_logging
from bot.maintenance import Maintenance
from bot.model_roster import ModelRoster
from bot.moderation.admin import ModerationAdmin
from bot.moderation.gate import ModerationGate
from bot.moderation.image_safety import NudeNetClassifier
from bot.outbox import Outbox
from bot.server_styles import ServerStyles
from bot.settings import SettingsService
from bot.store.database import Database
from bot.store.deliveries import DeliveryStore
from bot.store.jobs import SqliteJobStore
from bot.store.moderation import ModerationStore
from bot.store.outbox import OutboxStore
from bot.store.settings import SettingsStore
from pipeline.engine import Engine
from pipeline.jobs import job_cost
from pipeline.loras import LoraCatalog
from pipeline.model_pool import ModelPool, ModelResidency, cuda_free_bytes
from pipeline.models import ModelCatalog
from pipeline.request_builder import RequestBuilder
from pipeline.scheduler import JobScheduler
from pipeline.warm_up import start_warming

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
    settings: SettingsStore

    @classmethod
    def over(cls, database: Database) -> Stores:
        """Build every repository over the one database."""
        return cls(
            SqliteJobStore(database),
            DeliveryStore(database),
            OutboxStore(database),
            ModerationStore(database),
            SettingsStore(database),
        )


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
    settings: SettingsService

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


def load_engine(config: BotConfig, name: str, device: str | None = None) -> Engine:
    """Load the configured model ``name``, on ``device`` if given (slow: run it on a thread)."""
    entry = config.model_named(name)
    if device is not None:
        entry = entry.model_copy(update={"device": device})
    return Engine.from_config(config, entry, loras=LoraCatalog(config.lora_dirs))


def load_warming(config: BotConfig, name: str, device: str | None) -> Engine:
    """Load a model for a worker and start compiling its warm-up buckets (``compile: true``)."""
    engine = load_engine(config, name, device)
    start_warming(engine)
    return engine


def worker_devices(config: BotConfig) -> tuple[str | None, ...]:
    """Return one device per worker; None lets each model load on its own ``device:``."""
    return config.queue.devices or (None,)


def model_pool(config: BotConfig, catalog: ModelCatalog, device: str | None) -> ModelPool:
    """Build one worker's pool of models: loaded on first use, within the configured limits."""
    probe_device = device or config.default_model.device
    return ModelPool(
        catalog,
        lambda name: load_warming(config, name, device),
        max_loaded=config.queue.max_loaded_models,
        free_bytes=cuda_free_bytes(probe_device),
    )


def load_engines(config: BotConfig) -> list[BatchEngine]:
    """Build every worker's pool with the default model loaded, so the first job starts warm.

    Every configured model's files are read first, so an unusable one stops the start-up
    with its name and why. With ``cluster.backend: ray`` the workers send their batches to
    Ray Serve replicas instead (one worker per replica a model may have).
    """
    catalog = ModelCatalog.from_config(config)
    if config.cluster.backend == "ray":
        from pipeline.cluster.backend import ray_engines  # noqa: PLC0415 - the optional extra

        return list(ray_engines(config, config.cluster))
    pools = [model_pool(config, catalog, device) for device in worker_devices(config)]
    for pool in pools:
        pool.engine_for(catalog.default)
    names = ", ".join(catalog.names)
    logger.info(
        "models %s configured; %s loaded on %d worker(s)", names, catalog.default, len(pools)
    )
    return list(pools)


async def open_database(config: BotConfig) -> Database:
    """Open the database in the data directory, migrated to the latest schema."""
    return await Database.open(config.database_path)


async def build_app(
    config: BotConfig,
    engines: Sequence[BatchEngine],
    *,
    rebuildable: bool = True,
    clock: Callable[[], float] = time.time,
    classifier: SafetyClassifier | None = None,
) -> EaselApp:
    """Open the database and build every part around the workers' engines (one per worker).

    ``engines`` are normally :class:`ModelPool` objects; a test may wrap them (to pause or
    fail them) and pass ``rebuildable=False``, since a wrapper cannot be rebuilt as itself.
    """
    catalog = ModelCatalog.from_config(config)
    loras = LoraCatalog(config.lora_dirs)
    requests = RequestBuilder(
        catalog, config.generation, config.input_images, styles=config.styles, loras=loras
    )
    db = await open_database(config)
    stores = Stores.over(db)
    scheduler = _scheduler(config, catalog, requests, engines, stores.jobs, rebuildable=rebuildable)
    bot = EaselBot(guild_ids=config.discord.guild_ids, heartbeat_path=config.heartbeat_path)
    if classifier is None and config.moderation.image_check:
        classifier = NudeNetClassifier(config.moderation.safety_threshold)
    gate = ModerationGate(
        config.moderation, stores.moderation, bot.post_quietly, classifier, clock=clock
    )
    styles = await ServerStyles.load(stores.settings, requests, gate.record)
    settings = await SettingsService.load(stores.settings, styles, requests, gate.record)
    buttons = JobButtons()
    courier = Courier(bot, stores.deliveries, gate, buttons, clock=clock)
    outbox = Outbox(stores.outbox, stores.jobs, courier, clock=clock)
    delivery = JobDelivery(
        bot, courier, outbox, progress_interval=config.discord.progress_interval, clock=clock
    )
    in_flight = InFlight()
    services = ActionServices(
        requests=requests,
        scheduler=scheduler,
        jobs=stores.jobs,
        deliveries=stores.deliveries,
        outbox=stores.outbox,
        delivery=delivery,
        moderation=gate,
        buttons=buttons,
        settings=settings,
        inputs_dir=config.inputs_dir,
        moderator_role=config.discord.moderator_role,
        show_style_text=config.discord.show_style_text,
        clock=clock,
    )
    actions, forms = _use_cases(services, in_flight)
    app = EaselApp(
        config, db, stores, scheduler, gate, outbox, delivery, actions, in_flight, bot, settings
    )
    roster = ModelRoster(catalog, [e for e in engines if isinstance(e, ModelResidency)])
    bot.install(
        _bot_parts(app, buttons, roster, loras, Maintenance(config, db, clock=clock), forms=forms)
    )
    return app


def _use_cases(services: ActionServices, in_flight: InFlight) -> tuple[JobActions, JobForms]:
    """Build the use cases, and register their handlers on the buttons and the forms."""
    actions = JobActions(services, in_flight)
    actions.register_buttons(services.buttons)
    forms = JobForms()
    EditActions(actions, services.requests).register(services.buttons, forms)
    return actions, forms


def _scheduler(
    config: BotConfig,
    catalog: ModelCatalog,
    requests: RequestBuilder,
    engines: Sequence[BatchEngine],
    jobs: SqliteJobStore,
    *,
    rebuildable: bool,
) -> JobScheduler:
    """Build the job scheduler: one worker per engine, reloading an engine the GPU broke."""
    devices = worker_devices(config)

    def rebuild(index: int) -> BatchEngine:
        if config.cluster.backend == "ray":
            return engines[index]  # Serve replaces the replica; the handle stays good
        return model_pool(config, catalog, devices[index % len(devices)])

    return JobScheduler(
        list(engines),
        jobs,
        config.queue,
        output_dir=config.outputs_dir,
        quantum=job_cost(requests.parse("a default job")),
        rebuild_engine=rebuild if rebuildable else None,
    )


def _bot_parts(
    app: EaselApp,
    buttons: JobButtons,
    roster: ModelRoster,
    loras: LoraCatalog,
    maintenance: Maintenance,
    *,
    forms: JobForms,
) -> BotParts:
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
            ImagineCog(app.actions, roster, loras),
            GuideCog(stores.jobs, scheduler, moderator_role=role),
            ModelsCog(roster),
            LorasCog(loras, roster),
            ModerationCog(admin, moderator_role=role),
            SettingsCog(app.settings, roster, moderator_role=role),
            StylesCog(app.settings.styles, roster, moderator_role=role),
        ],
        buttons=buttons,
        forms=forms,
        resume=resume,
        background=[app.moderation.warm_up, maintenance.run_forever, app.outbox.run_forever],
    )
