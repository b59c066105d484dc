"""The client's lifecycle: start-up work, and a shutdown mid-burst that loses nobody's request."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

from bot.moderation.image_safety import SafetyReading
from tests.bot.harness import bot_config, is_result, running_easel
from tests.pipeline.faulty_engine import FaultyEngine

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import pytest
    from PIL import Image

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator

LONG = 30


async def test_a_shutdown_mid_burst_answers_everyone_and_loses_no_job(
    emulator: DiscordEmulator,
    tiny_engine: Engine,
    tiny_model_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stop while handlers are queueing; after a restart every request ends in a grid."""
    config = bot_config(tmp_path, tiny_model_dir)
    users = [emulator.create_member(f"user{i}") for i in range(4)]
    async with running_easel(emulator, tiny_engine, config):
        handles = await asyncio.gather(
            *(
                emulator.invoke_slash("imagine", {"prompt": f"burst {i}"}, user=users[i % 4])
                for i in range(12)
            )
        )
        await asyncio.gather(*(handle.wait_for_response() for handle in handles))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    async with running_easel(emulator, tiny_engine, config):
        for handle in handles:
            await handle.wait_for_original(is_result, timeout=LONG)
    emulator.assert_no_errors()


async def test_commands_arriving_during_shutdown_are_told_to_retry(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Answer a command that arrives while the bot is stopping, privately, with a retry hint."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held) as easel:
        await emulator.invoke_slash("imagine", {"prompt": "keeps the worker busy"})
        await asyncio.to_thread(held.holding.wait, LONG)
        # The shutdown waits for the running job, so the gateway is still open meanwhile.
        stopping = asyncio.create_task(easel.shutdown())
        while not easel.in_flight.closing:  # noqa: ASYNC110 - the shutdown's first step
            await asyncio.sleep(0.01)
        handle = await emulator.invoke_slash("imagine", {"prompt": "too late"})
        message = await handle.wait_for_original()
        held.release()
        await stopping
    assert message.ephemeral
    assert "restarting" in message.content


async def test_an_internal_failure_gets_an_apology_with_an_error_id(
    emulator: DiscordEmulator,
    tiny_engine: Engine,
    tiny_model_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Log the traceback, take back the placeholder, and apologise privately with an id."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        await easel.database.close()  # the disk went away
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle"})
        apology = await handle.wait_for_followup(timeout=LONG)
    assert apology.ephemeral
    assert "error id" in apology.content
    reference = apology.content.split("`")[1]
    assert any(reference in record.getMessage() and record.exc_info for record in caplog.records)
    assert handle.original is not None
    assert handle.original.deleted


async def test_a_command_that_fails_before_running_still_gets_an_answer(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Apologise with an error id when discord.py cannot even prepare the command."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        mod = emulator.create_member("mod", permissions=discord.Permissions(manage_messages=True))
        unknown_channel = emulator.create_channel("created-after-connect")
        handle = await emulator.invoke_slash("modlog", {"channel": unknown_channel}, user=mod)
        answer = await handle.wait_for_original()
    assert answer.ephemeral
    assert "error id" in answer.content


class CountingClassifier:
    """A classifier that reads everything as safe and remembers each call."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.called = asyncio.Event()

    def classify(self, images: Sequence[Image.Image]) -> list[SafetyReading]:
        """Count the images and pass them."""
        self.calls.append(len(images))
        self.called.set()
        return [SafetyReading(unsafe=False) for _ in images]


async def test_the_image_check_is_loaded_at_start_up(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Run the classifier once before any job, so the first job does not pay for loading it."""
    classifier = CountingClassifier()
    config = bot_config(tmp_path, tiny_model_dir, moderation={"image_check": True})
    async with running_easel(emulator, tiny_engine, config, classifier=classifier):
        await asyncio.wait_for(classifier.called.wait(), timeout=LONG)
    assert classifier.calls == [1]


async def test_no_classifier_is_loaded_when_the_check_is_off(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Leave the classifier alone when the server owner turned the image check off."""
    classifier = CountingClassifier()
    config = bot_config(tmp_path, tiny_model_dir, moderation={"image_check": False})
    async with running_easel(emulator, tiny_engine, config, classifier=classifier):
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle"})
        await handle.wait_for_original(is_result, timeout=LONG)
    assert classifier.calls == []
