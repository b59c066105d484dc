"""The one owner of the SQLite connection: safe settings, migrations and transactions.

All writes go through :meth:`Database.transaction`, which takes an in-process lock (so two
coroutines never interleave statements on the shared connection) and then ``BEGIN
IMMEDIATE`` (so another process holding the file makes us wait, up to ``busy_timeout``,
instead of failing with "database is locked" half-way through a transaction).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import aiosqlite

from bot.store.migrations import MIGRATIONS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable
    from pathlib import Path

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


class Database:
    """An open SQLite database, migrated to the latest schema."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._connection = connection
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Database:
        """Open (creating if needed) and migrate the database at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN and COMMIT ourselves.
        connection = await aiosqlite.connect(path, isolation_level=None)
        connection.row_factory = aiosqlite.Row
        await connection.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL keeps commits across process crashes (kill -9 included);
        # only a power cut can lose the last ones. FULL would fsync every commit.
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA foreign_keys=ON")
        await connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        database = cls(connection, path)
        try:
            await database._migrate()
        except BaseException:
            await connection.close()  # never leave the connection's thread behind
            raise
        return database

    async def close(self) -> None:
        """Close the connection."""
        await self._connection.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the block in one write transaction, committed on success, rolled back on error."""
        async with self._lock:
            await self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            await self._connection.execute("COMMIT")

    async def execute(self, sql: str, parameters: Iterable[Any] = ()) -> int:
        """Run one write statement in its own transaction; return the rows it changed."""
        async with self.transaction() as connection:
            cursor = await connection.execute(sql, tuple(parameters))
            return cursor.rowcount

    async def fetch_all(self, sql: str, parameters: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """Run a query and return every row."""
        async with self._lock:
            cursor = await self._connection.execute(sql, tuple(parameters))
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, parameters: Iterable[Any] = ()) -> aiosqlite.Row | None:
        """Run a query and return its first row, or None."""
        rows = await self.fetch_all(sql, parameters)
        return rows[0] if rows else None

    async def backup(self, destination: Path) -> None:
        """Copy the live database to ``destination`` with SQLite's online backup API.

        The copy is written beside the destination and renamed into place, so a backup file
        is never half-written; the bot keeps running while it is made.
        """
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        target = sqlite3.connect(partial, check_same_thread=False)
        try:
            async with self._lock:
                await self._connection.backup(target)
        finally:
            target.close()
        partial.replace(destination)

    async def schema_version(self) -> int:
        """Return the schema version recorded in ``PRAGMA user_version``."""
        row = await self.fetch_one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        """Apply every migration newer than the file's ``user_version``, each atomically."""
        current = await self.schema_version()
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.path} has schema version {current}, newer than this Easel knows "
                f"({len(MIGRATIONS)}); upgrade Easel or restore a matching backup."
            )
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            async with self.transaction() as connection:
                for statement in _statements(script):
                    await connection.execute(statement)
                # PRAGMA takes no parameters; version is an int we produced.
                await connection.execute(f"PRAGMA user_version={int(version)}")
            logger.info("database migrated to version %d", version)


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (our migrations hold no literal ';')."""
    return [statement.strip() for statement in script.split(";") if statement.strip()]
