"""Fixtures for the emulator's own tests: a sample bot running against the emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .sample_bot import SampleBot

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .emulator import DiscordEmulator


@pytest.fixture
async def bot(emulator: DiscordEmulator) -> AsyncIterator[SampleBot]:
    """Run the sample bot, commands synced globally, until the test ends."""
    client = SampleBot()
    async with emulator.running(client):
        await client.tree.sync()
        yield client
