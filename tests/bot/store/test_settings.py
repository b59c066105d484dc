"""The settings store: server and channel rows, members' preferences, styles, the migration."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from bot.job_defaults import MemberPreferences, PlaceDefaults, ServerStyle
from bot.store.database import Database
from bot.store.migrations import MIGRATIONS
from bot.store.settings import SettingsStore

if TYPE_CHECKING:
    from pathlib import Path

# Larger than JSON's safe integers, as Discord's snowflakes are.
GUILD = 1_111_111_111_111_111_111
CHANNEL = 2_222_222_222_222_222_222
MEMBER = 3_333_333_333_333_333_333
MODERATOR = 4_444_444_444_444_444_444


@pytest.fixture
def store(database: Database) -> SettingsStore:
    """Build the settings store on a fresh, migrated database."""
    return SettingsStore(database)


async def test_a_server_and_a_channel_are_kept_apart(store: SettingsStore) -> None:
    """Read back the server's row and a channel's row as saved, each with every field."""
    server = PlaceDefaults(GUILD, None, model="m", max_steps=20, image_prompts=False)
    channel = PlaceDefaults(
        GUILD,
        CHANNEL,
        style="s",
        max_pixels=500_000,
        enforced_negative="watermark",
        image_prompts=True,
        unsafe_images="as_is",
    )
    await store.save_place(server, by=MODERATOR)
    await store.save_place(channel, by=MODERATOR)
    saved = {place.channel_id: place for place in await store.places()}
    assert saved == {None: server, CHANNEL: channel}


async def test_saving_a_place_again_replaces_it(store: SettingsStore) -> None:
    """Keep one row per server or channel: the latest choices."""
    await store.save_place(PlaceDefaults(GUILD, CHANNEL, model="a"), by=MODERATOR)
    await store.save_place(PlaceDefaults(GUILD, CHANNEL, style="b"), by=MODERATOR)
    assert await store.places() == [PlaceDefaults(GUILD, CHANNEL, style="b")]


async def test_a_place_that_chooses_nothing_is_deleted(store: SettingsStore) -> None:
    """Delete the row of a channel whose every choice was reset."""
    await store.save_place(PlaceDefaults(GUILD, CHANNEL, model="a"), by=MODERATOR)
    await store.save_place(PlaceDefaults(GUILD, CHANNEL), by=MODERATOR)
    assert await store.places() == []


async def test_preferences_are_read_back_and_deleted_when_empty(store: SettingsStore) -> None:
    """Read back a member's preferences, and forget the row once they are all reset."""
    preferences = MemberPreferences(GUILD, MEMBER, aspect="16:9", style="s", model="m", avoid="x")
    await store.save_preferences(preferences)
    assert await store.preferences() == [preferences]
    await store.save_preferences(MemberPreferences(GUILD, MEMBER))
    assert await store.preferences() == []


async def test_style_names_are_unique_per_server_whatever_their_case(
    store: SettingsStore,
) -> None:
    """Replace a style saved again as NEON, and delete it as neon."""
    await store.save_style(ServerStyle(GUILD, "neon", "{prompt}, neon", added_by=MODERATOR))
    await store.save_style(ServerStyle(GUILD, "NEON", "{prompt}, glow", added_by=MODERATOR))
    [saved] = await store.styles()
    assert (saved.name, saved.prompt, saved.added_by) == ("NEON", "{prompt}, glow", MODERATOR)
    assert await store.remove_style(GUILD, "neon")
    assert await store.styles() == []


async def test_removing_a_style_that_does_not_exist_says_so(store: SettingsStore) -> None:
    """Return False for a style the server does not have."""
    assert not await store.remove_style(GUILD, "nothing")


async def test_a_version_4_database_migrates_to_version_5(tmp_path: Path) -> None:
    """Add the settings tables to a database of the previous release, keeping its jobs."""
    path = tmp_path / "easel.db"
    with sqlite3.connect(path) as connection:
        for script in MIGRATIONS[:4]:
            connection.executescript(script)
        connection.execute(
            "INSERT INTO jobs (id, owner, status, request, created_at) "
            "VALUES ('old', '1', 'done', '{}', 0)"
        )
        connection.execute("PRAGMA user_version=4")
    db = await Database.open(path)
    try:
        assert await db.schema_version() == len(MIGRATIONS) >= 5
        assert await db.fetch_one("SELECT id FROM jobs WHERE id = 'old'") is not None
        store = SettingsStore(db)
        await store.save_place(PlaceDefaults(GUILD, None, max_steps=9), by=MODERATOR)
        assert await store.places() == [PlaceDefaults(GUILD, None, max_steps=9)]
    finally:
        await db.close()
