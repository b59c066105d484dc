"""The heartbeat behind container health checks."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bot.health import STALE_SECONDS, read_health, write_heartbeat
from tests.bot.harness import bot_config, eventually, running_easel

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator


def test_a_fresh_connected_heartbeat_is_healthy(tmp_path: Path) -> None:
    """Report healthy when the bot wrote recently that it is connected."""
    write_heartbeat(tmp_path / "heartbeat.json", connected=True)
    assert read_health(tmp_path / "heartbeat.json")[0]


def test_a_stale_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    """Report unhealthy when the bot stopped refreshing the file."""
    write_heartbeat(tmp_path / "heartbeat.json", connected=True)
    healthy, reason = read_health(tmp_path / "heartbeat.json", now=time.time() + STALE_SECONDS + 1)
    assert not healthy
    assert "old" in reason


def test_no_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    """Report unhealthy when the bot never ran."""
    assert not read_health(tmp_path / "heartbeat.json")[0]


async def test_the_running_bot_reports_connected_then_disconnected(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Write a connected heartbeat while running and a disconnected one at shutdown."""
    config = bot_config(tmp_path, tiny_model_dir)

    async def connected() -> bool | None:
        return True if read_health(config.heartbeat_path)[0] else None

    async with running_easel(emulator, tiny_engine, config):
        await eventually(connected, timeout=10)
    assert not read_health(config.heartbeat_path)[0]
