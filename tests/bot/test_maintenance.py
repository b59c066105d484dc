"""Housekeeping: images past their retention are deleted; database backups rotate."""

from __future__ import annotations

import os
import sqlite3
import time
from typing import TYPE_CHECKING

from bot.maintenance import DAY, Maintenance
from bot.store.database import Database
from tests.bot.harness import bot_config

if TYPE_CHECKING:
    from pathlib import Path


def aged(path: Path, days: float) -> Path:
    """Create ``path`` (a folder with one file) last modified ``days`` ago."""
    path.mkdir(parents=True)
    (path / "1.png").write_bytes(b"png")
    stamp = time.time() - days * DAY
    os.utime(path / "1.png", (stamp, stamp))
    os.utime(path, (stamp, stamp))
    return path


async def test_images_older_than_the_retention_are_deleted(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Delete job folders past keep_images_days and keep recent ones."""
    config = bot_config(tmp_path, tiny_model_dir, storage={"keep_images_days": 7})
    old = aged(config.outputs_dir / "oldjob", days=8)
    new = aged(config.outputs_dir / "newjob", days=1)
    database = await Database.open(config.database_path)
    try:
        assert await Maintenance(config, database).expire_images() == 1
    finally:
        await database.close()
    assert not old.exists()
    assert new.exists()


async def test_a_retention_of_zero_keeps_everything(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Keep all images when keep_images_days is 0."""
    config = bot_config(tmp_path, tiny_model_dir, storage={"keep_images_days": 0})
    old = aged(config.outputs_dir / "ancient", days=900)
    database = await Database.open(config.database_path)
    try:
        assert await Maintenance(config, database).expire_images() == 0
    finally:
        await database.close()
    assert old.exists()


async def test_backups_are_readable_copies_and_rotate(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Write complete database copies and keep only the newest backups_kept of them."""
    config = bot_config(tmp_path, tiny_model_dir, storage={"backups_kept": 2})
    database = await Database.open(config.database_path)
    clock = [1_000_000.0]
    maintenance = Maintenance(config, database, clock=lambda: clock[0])
    try:
        paths = []
        for _ in range(3):
            paths.append(await maintenance.backup())
            clock[0] += 3600
    finally:
        await database.close()
    assert sorted(config.backups_dir.glob("easel-*.db")) == paths[1:]
    with sqlite3.connect(paths[-1]) as copy:
        assert copy.execute("PRAGMA user_version").fetchone()[0] >= 1
        assert copy.execute("SELECT COUNT(*) FROM jobs").fetchone() == (0,)
