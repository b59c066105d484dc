"""Moderation: filters, per-guild settings, bans, rate-limit state, and the audit log."""

SQL = """
CREATE TABLE filters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id TEXT NOT NULL,
    pattern TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('word', 'phrase', 'regex')),
    action TEXT NOT NULL CHECK (action IN ('block', 'flag')),
    added_by TEXT NOT NULL,
    added_at REAL NOT NULL,
    UNIQUE (guild_id, kind, pattern)
);
CREATE INDEX filters_by_guild ON filters (guild_id);
CREATE TABLE guild_settings (
    guild_id TEXT PRIMARY KEY,
    default_filters INTEGER NOT NULL DEFAULT 0,
    modlog_channel_id TEXT,
    user_per_minute REAL,
    user_burst INTEGER,
    guild_per_minute REAL,
    guild_burst INTEGER
);
CREATE TABLE bans (
    guild_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    until REAL,
    reason TEXT NOT NULL DEFAULT '',
    banned_by TEXT NOT NULL,
    banned_at REAL NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat REAL NOT NULL
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id TEXT,
    actor_id TEXT,
    action TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
CREATE INDEX audit_by_guild ON audit (guild_id, at);
CREATE INDEX audit_by_actor ON audit (guild_id, actor_id, at)
"""
