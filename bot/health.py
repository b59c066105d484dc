"""A heartbeat file for container health checks: written by the bot, read by ``--health``.

The running bot rewrites ``<data_dir>/heartbeat.json`` every 30 s with whether the gateway
is connected. ``python -m bot --health`` (Docker's HEALTHCHECK) reads it without touching
Discord or the model, so the check is cheap and needs no token.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

BEAT_SECONDS = 30.0
STALE_SECONDS = 3 * BEAT_SECONDS


async def beat_forever(path: Path, connected: Callable[[], bool]) -> None:
    """Rewrite the heartbeat file every 30 s until cancelled."""
    while True:
        write_heartbeat(path, connected=connected())
        await asyncio.sleep(BEAT_SECONDS)


def write_heartbeat(path: Path, *, connected: bool) -> None:
    """Record the bot's state and the time, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"at": time.time(), "connected": connected}), encoding="utf-8")
    partial.replace(path)


def read_health(path: Path, *, now: float | None = None) -> tuple[bool, str]:
    """Return whether the bot looks healthy, and why."""
    try:
        beat = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False, f"no heartbeat at {path}: the bot is not running (or just starting)"
    age = (time.time() if now is None else now) - float(beat.get("at", 0))
    if age > STALE_SECONDS:
        return False, f"the last heartbeat is {age:.0f} s old: the bot is stuck or stopped"
    if not beat.get("connected"):
        return False, "the bot is running but not connected to Discord"
    return True, f"connected to Discord (heartbeat {age:.0f} s ago)"
