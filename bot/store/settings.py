"""Settings in SQLite: server and channel defaults, members' preferences, servers' styles.

The bot reads these tables once at start-up and keeps them in memory
(:class:`bot.settings.SettingsService`), so every read here returns all rows; each write
changes one row. A row that chooses nothing is deleted rather than kept empty.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bot.job_defaults import MemberPreferences, PlaceDefaults, ServerStyle
from bot.moderation.image_safety import NSFW_CHANNEL_MODES

if TYPE_CHECKING:
    import aiosqlite

    from bot.moderation.image_safety import NsfwChannelMode
    from bot.store.database import Database

SERVER = ""  # the channel_id of a server-wide row


class SettingsStore:
    """Read and write the settings tables (all per guild)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # Server and channel defaults

    async def places(self) -> list[PlaceDefaults]:
        """Return every server's and channel's saved choices."""
        rows = await self._db.fetch_all(
            "SELECT guild_id, channel_id, model, style, max_steps, max_pixels, "
            "enforced_negative, image_prompts, unsafe_images FROM place_settings"
        )
        return [_place(row) for row in rows]

    async def save_place(self, place: PlaceDefaults, *, by: int) -> None:
        """Save a server's or channel's choices (deleting the row when none are left)."""
        key = (str(place.guild_id), SERVER if place.channel_id is None else str(place.channel_id))
        if place.is_empty():
            await self._db.execute(
                "DELETE FROM place_settings WHERE guild_id = ? AND channel_id = ?", key
            )
            return
        await self._db.execute(
            "INSERT OR REPLACE INTO place_settings (guild_id, channel_id, model, style, "
            "max_steps, max_pixels, enforced_negative, image_prompts, unsafe_images, "
            "updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *key,
                place.model,
                place.style,
                place.max_steps,
                place.max_pixels,
                place.enforced_negative,
                None if place.image_prompts is None else int(place.image_prompts),
                place.unsafe_images,
                str(by),
                time.time(),
            ),
        )

    # Members' preferences

    async def preferences(self) -> list[MemberPreferences]:
        """Return every member's saved preferences."""
        rows = await self._db.fetch_all(
            "SELECT guild_id, user_id, aspect, style, model, avoid FROM member_preferences"
        )
        return [
            MemberPreferences(
                guild_id=int(row["guild_id"]),
                user_id=int(row["user_id"]),
                aspect=row["aspect"],
                style=row["style"],
                model=row["model"],
                avoid=row["avoid"],
            )
            for row in rows
        ]

    async def save_preferences(self, preferences: MemberPreferences) -> None:
        """Save a member's preferences (deleting the row when none are left)."""
        key = (str(preferences.guild_id), str(preferences.user_id))
        if preferences.is_empty():
            await self._db.execute(
                "DELETE FROM member_preferences WHERE guild_id = ? AND user_id = ?", key
            )
            return
        await self._db.execute(
            "INSERT OR REPLACE INTO member_preferences (guild_id, user_id, aspect, style, "
            "model, avoid, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                *key,
                preferences.aspect,
                preferences.style,
                preferences.model,
                preferences.avoid,
                time.time(),
            ),
        )

    # Servers' styles

    async def styles(self) -> list[ServerStyle]:
        """Return every server's styles, oldest first."""
        rows = await self._db.fetch_all(
            "SELECT guild_id, name, prompt, negative, model, added_by, added_at "
            "FROM server_styles ORDER BY added_at, name"
        )
        return [
            ServerStyle(
                guild_id=int(row["guild_id"]),
                name=row["name"],
                prompt=row["prompt"],
                negative=row["negative"],
                model=row["model"],
                added_by=int(row["added_by"]),
                added_at=row["added_at"],
            )
            for row in rows
        ]

    async def save_style(self, style: ServerStyle) -> None:
        """Save a style, replacing one of the same name (in any case) in that server."""
        await self._db.execute(
            "INSERT OR REPLACE INTO server_styles (guild_id, name, prompt, negative, model, "
            "added_by, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(style.guild_id),
                style.name,
                style.prompt,
                style.negative,
                style.model,
                str(style.added_by),
                style.added_at,
            ),
        )

    async def remove_style(self, guild_id: int, name: str) -> bool:
        """Delete a server's style by name (any case); return whether there was one."""
        changed = await self._db.execute(
            "DELETE FROM server_styles WHERE guild_id = ? AND name = ?", (str(guild_id), name)
        )
        return changed > 0


def _place(row: aiosqlite.Row) -> PlaceDefaults:
    """Rebuild a server's or channel's choices from its row."""
    flag = row["image_prompts"]
    return PlaceDefaults(
        guild_id=int(row["guild_id"]),
        channel_id=int(row["channel_id"]) if row["channel_id"] != SERVER else None,
        model=row["model"],
        style=row["style"],
        max_steps=row["max_steps"],
        max_pixels=row["max_pixels"],
        enforced_negative=row["enforced_negative"],
        image_prompts=None if flag is None else bool(flag),
        unsafe_images=_mode(row["unsafe_images"]),
    )


def _mode(value: str | None) -> NsfwChannelMode | None:
    """Read a stored image-safety policy (the table's CHECK admits only known ones)."""
    return next((mode for mode in NSFW_CHANNEL_MODES if mode == value), None)
