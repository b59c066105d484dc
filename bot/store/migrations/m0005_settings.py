"""Settings: server and channel defaults and rules, members' preferences, servers' styles.

A ``place_settings`` row with ``channel_id`` '' holds the whole server's choices; NULL
columns mean "not chosen here". Style names are unique per server whatever their case.
"""

SQL = """
CREATE TABLE place_settings (
    guild_id TEXT NOT NULL,
    channel_id TEXT NOT NULL DEFAULT '',
    model TEXT,
    style TEXT,
    max_steps INTEGER CHECK (max_steps IS NULL OR max_steps >= 1),
    max_pixels INTEGER CHECK (max_pixels IS NULL OR max_pixels >= 1),
    enforced_negative TEXT NOT NULL DEFAULT '',
    image_prompts INTEGER CHECK (image_prompts IS NULL OR image_prompts IN (0, 1)),
    unsafe_images TEXT
        CHECK (unsafe_images IS NULL OR unsafe_images IN ('withhold', 'spoiler', 'as_is')),
    updated_by TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);
CREATE TABLE member_preferences (
    guild_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    aspect TEXT,
    style TEXT,
    model TEXT,
    avoid TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE TABLE server_styles (
    guild_id TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    prompt TEXT NOT NULL,
    negative TEXT NOT NULL DEFAULT '',
    model TEXT,
    added_by TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (guild_id, name)
)
"""
