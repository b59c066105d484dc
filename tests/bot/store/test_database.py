"""The database module: migrations, transactions, and concurrent writers that never collide."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import TYPE_CHECKING

import pytest

from bot.store.database import Database
from bot.store.migrations import MIGRATIONS

if TYPE_CHECKING:
    from pathlib import Path


async def test_opening_migrates_to_the_latest_version(tmp_path: Path) -> None:
    """Create the schema and record its version in user_version."""
    db = await Database.open(tmp_path / "easel.db")
    assert await db.schema_version() == len(MIGRATIONS)
    assert await db.fetch_one("SELECT name FROM sqlite_master WHERE name = 'jobs'") is not None
    await db.close()


async def test_reopening_applies_no_migration_twice(tmp_path: Path) -> None:
    """Open an already migrated file without error or change."""
    await (await Database.open(tmp_path / "easel.db")).close()
    db = await Database.open(tmp_path / "easel.db")
    assert await db.schema_version() == len(MIGRATIONS)
    await db.close()


async def test_a_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    """Refuse a file written by a newer Easel rather than guess at its schema."""
    path = tmp_path / "easel.db"
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version={len(MIGRATIONS) + 5}")
    with pytest.raises(RuntimeError, match="upgrade Easel"):
        await Database.open(path)


async def test_the_safe_settings_are_on(tmp_path: Path) -> None:
    """Use WAL, foreign keys and a busy timeout."""
    db = await Database.open(tmp_path / "easel.db")
    assert (await db.fetch_one("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
    assert (await db.fetch_one("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
    assert (await db.fetch_one("PRAGMA busy_timeout"))[0] >= 5000  # type: ignore[index]
    await db.close()


async def test_a_failing_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    """Roll back every statement of a transaction that raises."""
    db = await Database.open(tmp_path / "easel.db")
    await db.execute("CREATE TABLE t (x INTEGER)")

    async def insert_then_fail() -> None:
        async with db.transaction() as connection:
            await connection.execute("INSERT INTO t VALUES (1)")
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await insert_then_fail()
    assert await db.fetch_all("SELECT x FROM t") == []
    await db.close()


async def test_fifty_writers_times_a_hundred_writes_never_hit_a_lock(tmp_path: Path) -> None:
    """Let 50 coroutines on 5 connections make 5000 writes with no 'database is locked'."""
    path = tmp_path / "easel.db"
    connections = [await Database.open(path) for _ in range(5)]
    await connections[0].execute("CREATE TABLE counter (writer INTEGER, n INTEGER)")

    async def writer(number: int) -> None:
        db = connections[number % len(connections)]
        for n in range(100):
            async with db.transaction() as connection:
                await connection.execute("INSERT INTO counter VALUES (?, ?)", (number, n))

    await asyncio.gather(*(writer(number) for number in range(50)))
    row = await connections[0].fetch_one("SELECT COUNT(*) FROM counter")
    assert row is not None
    assert row[0] == 5000
    for db in connections:
        await db.close()
