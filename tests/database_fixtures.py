"""A fresh SQLite database per test, migrated to the latest schema; registered in conftest."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.store.database import Database

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """Open a fresh, migrated database file; close it after the test."""
    db = await Database.open(tmp_path / "easel.db")
    yield db
    await db.close()
