"""Pytest fixtures for the emulator; registered by tests/conftest.py through `pytest_plugins`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .emulator import DiscordEmulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    """Run an emulator with discord.py pointed at it; fail the test if it hit unknown routes."""
    emulator = DiscordEmulator()
    await emulator.start()
    try:
        with emulator.install():
            yield emulator
    finally:
        await emulator.stop()
    if emulator.unknown_routes:
        listed = "\n".join(f"  {route}" for route in emulator.unknown_routes)
        pytest.fail(f"the bot called routes the emulator does not implement:\n{listed}")
