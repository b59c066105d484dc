"""Housekeeping while the bot runs: expire old images and back up the database.

Both run on a timer in the background and never block the event loop: file deletion happens
on a thread, and the backup uses SQLite's online backup API.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from bot.config import BotConfig
    from bot.store.database import Database

logger = logging.getLogger(__name__)

TICK_SECONDS = 3600.0
DAY = 86400.0


class Maintenance:
    """Delete images past their retention and keep rotating database backups."""

    def __init__(
        self,
        config: BotConfig,
        database: Database,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._database = database
        self._clock = clock
        self._last_backup: float | None = None

    async def run_forever(self) -> None:
        """Tick once an hour until cancelled; a failed tick is logged, not fatal."""
        while True:
            try:
                await self.tick()
            except Exception:
                logger.exception("housekeeping failed; will try again in an hour")
            await asyncio.sleep(TICK_SECONDS)

    async def tick(self) -> None:
        """Do whatever housekeeping is due now."""
        removed = await self.expire_images()
        if removed:
            logger.info("deleted %d expired image folder(s) and file(s)", removed)
        every = self._config.storage.backup_every_hours * 3600
        if every and (self._last_backup is None or self._clock() - self._last_backup >= every):
            path = await self.backup()
            logger.info("database backed up to %s", path)

    async def expire_images(self) -> int:
        """Delete generated and uploaded images older than the retention; return how many."""
        days = self._config.storage.keep_images_days
        if not days:
            return 0
        cutoff = self._clock() - days * DAY
        folders = (self._config.outputs_dir, self._config.inputs_dir)
        return await asyncio.to_thread(_delete_older_than, folders, cutoff)

    async def backup(self) -> Path:
        """Back up the database now and keep only the newest ``backups_kept`` copies."""
        stamp = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y%m%d-%H%M%S")
        folder = self._config.backups_dir
        path = folder / f"easel-{stamp}.db"
        await self._database.backup(path)
        self._last_backup = self._clock()
        backups = sorted(folder.glob("easel-*.db"))
        for old in backups[: -self._config.storage.backups_kept]:
            old.unlink(missing_ok=True)
        return path


def _delete_older_than(folders: tuple[Path, ...], cutoff: float) -> int:
    """Delete entries of ``folders`` last modified before ``cutoff``; return the count."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            try:
                if entry.stat().st_mtime >= cutoff:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed += 1
            except OSError:
                logger.warning("could not delete expired %s", entry, exc_info=True)
    return removed
