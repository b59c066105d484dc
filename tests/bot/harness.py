"""Run the real Easel bot (real engine, queue and SQLite) against the Discord emulator."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from bot.app import build_app, model_pool
from bot.config import BotConfig
from pipeline.engine import Engine
from pipeline.loras import LoraCatalog
from pipeline.models import ModelCatalog, profile_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
    from pathlib import Path

    from bot.app import EaselApp
    from bot.moderation.image_safety import SafetyClassifier
    from pipeline.batch_runner import BatchEngine
    from pipeline.model_pool import ModelPool
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import MessageRecord


def shared_pool(engine: Engine, config: BotConfig) -> ModelPool:
    """Return a worker's pool holding the session's loaded engine as the default model.

    The other configured models load from the config on first use, as in production.
    """
    catalog = ModelCatalog.from_config(config)
    pool = model_pool(config, catalog, None)
    entry = config.default_model
    profile = profile_of(entry.label, engine.model.traits, entry, config.generation)
    pool.adopt(
        entry.label,
        Engine(
            engine.model,
            config.generation,
            config.input_images,
            profile=profile,
            loras=LoraCatalog(config.lora_dirs),
            controlnets=entry.controlnets,
            depth_model=config.control.depth_model,
        ),
    )
    return pool


def bot_config(data_dir: Path, model_dir: Path, **sections: Any) -> BotConfig:
    """Return a config for tests: the given model on the CPU, fast defaults."""
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "model": {"path": str(model_dir), "device": "cpu", "cpu_threads": 1},
        "generation": {"steps": 4, "sampler": "Euler"},
        "queue": {"gather_ms": 5, "shutdown_grace": 1},
        "logging": {"to_file": False},
        # The classifier has its own tests; most bot tests need not pay for it on every grid.
        "moderation": {"image_check": False},
    }
    if "models" in sections:  # a list of models replaces the one-model shortcut
        del values["model"]
    for name, section in sections.items():
        values[name] = {**values.get(name, {}), **section} if isinstance(section, dict) else section
    return BotConfig.model_validate(values)


@asynccontextmanager
async def running_easel(
    emulator: DiscordEmulator,
    engine: Engine,
    config: BotConfig,
    *,
    queue_engine: BatchEngine | None = None,
    queue_engines: Sequence[BatchEngine] = (),
    classifier: SafetyClassifier | None = None,
) -> AsyncIterator[EaselApp]:
    """Start the bot, built by the composition root, on the emulator; shut it down after.

    ``queue_engine`` lets a test wrap the real engine (to pause or slow it) for the queue;
    ``queue_engines`` gives one engine per worker instead (Ray's, say), rebuilt as the config
    says.
    The bot's engine shares the loaded model but takes its settings from ``config``, as in
    production where both come from one file.
    """
    engines = list(queue_engines) or (
        [queue_engine] if queue_engine is not None else [shared_pool(engine, config)]
    )
    app = await build_app(
        config,
        engines,
        rebuildable=queue_engine is None,
        clock=lambda: emulator.clock.wall().timestamp(),
        classifier=classifier,
    )
    try:
        async with emulator.running(app.bot):
            try:
                yield app
            finally:
                await app.shutdown()
    finally:
        await app.close()


def is_result(message: MessageRecord) -> bool:
    """Tell whether a message shows a finished job (an image and buttons)."""
    return bool(message.attachments) and bool(message.custom_ids())


async def eventually(
    check: Callable[[], Awaitable[object | None]],
    *,
    timeout: float,  # noqa: ASYNC109 - the caller states how long the condition may take
) -> object:
    """Poll an async check until it returns something other than None (a database row, say).

    Database rows have no event to wait on, so this polls every 10 ms until ``timeout``.
    """
    async with asyncio.timeout(timeout):
        while (value := await check()) is None:  # noqa: ASYNC110 - see the docstring
            await asyncio.sleep(0.01)
    return value
