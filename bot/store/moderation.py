"""Moderation records in SQLite: filters, guild settings, bans, and the audit log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.moderation.filters import Filter, FilterAction, FilterKind

if TYPE_CHECKING:
    from bot.store.database import Database

PAGE_SIZE = 15


@dataclass(frozen=True)
class GuildSettings:
    """A guild's moderation choices; None means "use the config default"."""

    guild_id: int
    default_filters: bool = False
    modlog_channel_id: int | None = None
    user_per_minute: float | None = None
    user_burst: int | None = None
    guild_per_minute: float | None = None
    guild_burst: int | None = None


@dataclass(frozen=True)
class Ban:
    """A user who may not use the bot in a guild, until when (None: until unbanned), and why."""

    user_id: int
    until: float | None
    reason: str
    banned_by: str
    banned_at: float


@dataclass(frozen=True)
class AuditEntry:
    """One recorded moderation-relevant event."""

    id: int
    guild_id: int | None
    actor_id: int | None
    action: str
    subject: str
    detail: str
    at: float


class ModerationStore:
    """Read and write every moderation table (all per guild)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # Filters

    async def add_filter(
        self, guild_id: int, pattern: str, kind: FilterKind, action: FilterAction, added_by: int
    ) -> Filter:
        """Save a filter (replacing the action of an identical one) and return it."""
        now = time.time()
        async with self._db.transaction() as connection:
            await connection.execute(
                "INSERT INTO filters (guild_id, pattern, kind, action, added_by, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, kind, pattern) "
                "DO UPDATE SET action = excluded.action, added_by = excluded.added_by, "
                "added_at = excluded.added_at",
                (str(guild_id), pattern, kind, action, str(added_by), now),
            )
            cursor = await connection.execute(
                "SELECT id FROM filters WHERE guild_id = ? AND kind = ? AND pattern = ?",
                (str(guild_id), kind, pattern),
            )
            row = await cursor.fetchone()
        assert row is not None
        return Filter(int(row[0]), pattern, kind, action, str(added_by), now)

    async def remove_filter(self, guild_id: int, filter_id: int) -> Filter | None:
        """Delete a filter of the guild and return what it was, or None if there is none."""
        found = [f for f in await self.filters(guild_id) if f.id == filter_id]
        if not found:
            return None
        await self._db.execute(
            "DELETE FROM filters WHERE guild_id = ? AND id = ?", (str(guild_id), filter_id)
        )
        return found[0]

    async def filters(self, guild_id: int) -> list[Filter]:
        """Return the guild's own filters, oldest first."""
        rows = await self._db.fetch_all(
            "SELECT id, pattern, kind, action, added_by, added_at FROM filters "
            "WHERE guild_id = ? ORDER BY id",
            (str(guild_id),),
        )
        return [
            Filter(
                row["id"],
                row["pattern"],
                row["kind"],
                row["action"],
                row["added_by"],
                row["added_at"],
            )
            for row in rows
        ]

    # Settings

    async def settings(self, guild_id: int) -> GuildSettings:
        """Return the guild's settings (defaults if it never changed any)."""
        row = await self._db.fetch_one(
            "SELECT default_filters, modlog_channel_id, user_per_minute, user_burst, "
            "guild_per_minute, guild_burst FROM guild_settings WHERE guild_id = ?",
            (str(guild_id),),
        )
        if row is None:
            return GuildSettings(guild_id)
        return GuildSettings(
            guild_id=guild_id,
            default_filters=bool(row["default_filters"]),
            modlog_channel_id=int(row["modlog_channel_id"]) if row["modlog_channel_id"] else None,
            user_per_minute=row["user_per_minute"],
            user_burst=row["user_burst"],
            guild_per_minute=row["guild_per_minute"],
            guild_burst=row["guild_burst"],
        )

    async def update_settings(self, settings: GuildSettings) -> None:
        """Save a guild's settings."""
        await self._db.execute(
            "INSERT OR REPLACE INTO guild_settings (guild_id, default_filters, "
            "modlog_channel_id, user_per_minute, user_burst, guild_per_minute, guild_burst) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(settings.guild_id),
                int(settings.default_filters),
                str(settings.modlog_channel_id) if settings.modlog_channel_id else None,
                settings.user_per_minute,
                settings.user_burst,
                settings.guild_per_minute,
                settings.guild_burst,
            ),
        )

    # Bans

    async def ban(
        self, guild_id: int, user_id: int, *, until: float | None, reason: str, banned_by: int
    ) -> None:
        """Ban a user in a guild (replacing an earlier ban)."""
        await self._db.execute(
            "INSERT OR REPLACE INTO bans (guild_id, user_id, until, reason, banned_by, banned_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (str(guild_id), str(user_id), until, reason, str(banned_by), time.time()),
        )

    async def unban(self, guild_id: int, user_id: int) -> bool:
        """Lift a ban; return whether there was one."""
        changed = await self._db.execute(
            "DELETE FROM bans WHERE guild_id = ? AND user_id = ?", (str(guild_id), str(user_id))
        )
        return changed > 0

    async def active_ban(self, guild_id: int, user_id: int, now: float) -> Ban | None:
        """Return the user's ban if it has not expired."""
        row = await self._db.fetch_one(
            "SELECT user_id, until, reason, banned_by, banned_at FROM bans "
            "WHERE guild_id = ? AND user_id = ? AND (until IS NULL OR until > ?)",
            (str(guild_id), str(user_id), now),
        )
        if row is None:
            return None
        return Ban(
            int(row["user_id"]), row["until"], row["reason"], row["banned_by"], row["banned_at"]
        )

    # Audit

    async def record(
        self,
        guild_id: int | None,
        actor_id: int | None,
        action: str,
        subject: str = "",
        detail: str = "",
    ) -> None:
        """Add an entry to the audit log."""
        await self._db.execute(
            "INSERT INTO audit (guild_id, actor_id, action, subject, detail, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                None if guild_id is None else str(guild_id),
                None if actor_id is None else str(actor_id),
                action,
                subject,
                detail[:4000],
                time.time(),
            ),
        )

    async def audit(
        self, guild_id: int, *, actor_id: int | None = None, limit: int = PAGE_SIZE
    ) -> list[AuditEntry]:
        """Return the guild's latest audit entries, newest first, optionally by one user."""
        sql = (
            "SELECT id, guild_id, actor_id, action, subject, detail, at FROM audit "
            "WHERE guild_id = ?"
        )
        parameters: list[object] = [str(guild_id)]
        if actor_id is not None:
            sql += " AND actor_id = ?"
            parameters.append(str(actor_id))
        rows = await self._db.fetch_all(sql + " ORDER BY id DESC LIMIT ?", [*parameters, limit])
        return [
            AuditEntry(
                id=row["id"],
                guild_id=int(row["guild_id"]) if row["guild_id"] else None,
                actor_id=int(row["actor_id"]) if row["actor_id"] else None,
                action=row["action"],
                subject=row["subject"],
                detail=row["detail"],
                at=row["at"],
            )
            for row in rows
        ]
