"""Delivering outcomes: past the token's life, under the upload limit, across reconnects."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

from PIL import Image

from pipeline.metadata import read_parameters
from tests.bot.harness import bot_config, is_result, running_easel
from tests.pipeline.faulty_engine import FaultyEngine

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator

LONG = 30


async def test_a_result_after_the_token_expired_is_posted_to_the_channel(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Post the grid as the bot's own message mentioning the owner when the token has died."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held):
        handle = await emulator.invoke_slash("imagine", {"prompt": "a long one"})
        await asyncio.to_thread(held.holding.wait, LONG)
        emulator.clock.advance(15 * 60 + 1)
        held.release()
        posted = await emulator.wait_for_message(
            lambda m: is_result(m) and m is not handle.original, timeout=LONG
        )
        placeholder = await handle.wait_for_original(lambda m: "Finished" in m.content)
    assert f"<@{emulator.member.user.id}>" in posted.content
    assert posted.message_reference is not None
    assert not placeholder.loading
    emulator.assert_no_errors()


async def test_an_oversized_result_is_reencoded_to_fit_the_upload_limit(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Send WebP or JPEG under the interaction's limit when the PNG would not fit."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        handle = await emulator.invoke_slash(
            "imagine", {"prompt": "a noisy one --seed 2"}, attachment_size_limit=6000
        )
        message = await handle.wait_for_original(is_result, timeout=LONG)
    (attachment,) = message.attachments
    assert attachment.size <= 6000
    assert attachment.content_type in ("image/webp", "image/jpeg")
    assert Image.open(io.BytesIO(attachment.data)).size[0] > 0
    parameters = read_parameters(Image.open(io.BytesIO(attachment.data)))
    assert parameters is not None
    assert "Seed: " in parameters
    emulator.assert_no_errors()


async def test_the_posted_grid_carries_its_parameters_for_other_tools(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Read A1111's parameters, every seed included, from the PNG Discord received."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle --seed 7"})
        message = await handle.wait_for_original(is_result, timeout=LONG)
    parameters = read_parameters(Image.open(io.BytesIO(message.attachments[0].data)))
    assert parameters is not None
    first, settings = parameters.splitlines()
    assert first == "a red circle"
    assert 'Seed: 7, Grid seeds: "7, 8, 9, 10"' in settings
    assert "Model: tiny-sd" in settings


async def test_jobs_keep_working_across_a_gateway_reconnect(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Resume after Discord asks for a reconnect, and answer the next /imagine."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        emulator.send_reconnect()
        await emulator.wait_for_resume(1)
        handle = await emulator.invoke_slash("imagine", {"prompt": "after the reconnect"})
        await handle.wait_for_original(is_result, timeout=LONG)
    assert len(emulator.identifies) == 1
    emulator.assert_no_errors()
