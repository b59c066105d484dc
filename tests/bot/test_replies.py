"""The one error path: what a member is told, and what the log says, when something fails."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from tests.bot.harness import bot_config, running_easel

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator


async def logged(caplog: pytest.LogCaptureFixture, words: str) -> None:
    """Wait until a log record says ``words`` (records have no event to wait on)."""
    async with asyncio.timeout(30):
        while not any(words in record.message for record in caplog.records):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_discord_failing_the_acknowledgement_is_one_warning_not_a_traceback(
    emulator: DiscordEmulator,
    tiny_engine: Engine,
    tiny_model_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Log a 503 on the interaction's callback as one warning line, queue nothing, crash nothing."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        emulator.outage(3600, 503, routes="POST /interactions/*")
        with caplog.at_level(logging.WARNING, logger="bot.replies"):
            await emulator.invoke_slash("imagine", {"prompt": "a red circle"})
            await logged(caplog, "Discord failed (503) in imagine")
            emulator.end_outage()  # the apology then finds the interaction expired
            await logged(caplog, "could not tell user")
        queued = easel.scheduler.waiting + easel.scheduler.running
    replies = [r for r in caplog.records if r.name == "bot.replies"]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in replies)
    assert queued == 0
