"""The moderation store: filters, settings and bans per guild, and the audit log."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from bot.store.moderation import GuildSettings, ModerationStore

if TYPE_CHECKING:
    from bot.store.database import Database

GUILD = 1_111_111_111_111_111_111
OTHER_GUILD = 2_222_222_222_222_222_222
MODERATOR = 3_333_333_333_333_333_333
MEMBER = 4_444_444_444_444_444_444


@pytest.fixture
def store(database: Database) -> ModerationStore:
    """Build the moderation store on a fresh, migrated database."""
    return ModerationStore(database)


async def test_an_added_filter_is_listed(store: ModerationStore) -> None:
    """List a saved filter with its pattern, kind, action and who added it."""
    saved = await store.add_filter(GUILD, "lava", "word", "block", MODERATOR)
    [listed] = await store.filters(GUILD)
    assert listed == saved
    assert (listed.pattern, listed.kind, listed.action, listed.added_by) == (
        "lava",
        "word",
        "block",
        str(MODERATOR),
    )


async def test_filters_are_listed_oldest_first(store: ModerationStore) -> None:
    """List a guild's filters in the order they were added."""
    for pattern in ("lava", "magma", "ash"):
        await store.add_filter(GUILD, pattern, "word", "flag", MODERATOR)
    assert [f.pattern for f in await store.filters(GUILD)] == ["lava", "magma", "ash"]


async def test_re_adding_a_filter_replaces_its_action(store: ModerationStore) -> None:
    """Keep one filter per pattern and kind, with the latest action and the same number."""
    first = await store.add_filter(GUILD, "lava", "word", "flag", MODERATOR)
    second = await store.add_filter(GUILD, "lava", "word", "block", MEMBER)
    [listed] = await store.filters(GUILD)
    assert second.id == first.id
    assert (listed.action, listed.added_by) == ("block", str(MEMBER))


async def test_the_same_pattern_of_another_kind_is_another_filter(
    store: ModerationStore,
) -> None:
    """Keep a word filter and a regex filter with the same pattern apart."""
    await store.add_filter(GUILD, "lava", "word", "flag", MODERATOR)
    await store.add_filter(GUILD, "lava", "regex", "block", MODERATOR)
    assert [f.kind for f in await store.filters(GUILD)] == ["word", "regex"]


async def test_filters_are_kept_per_guild(store: ModerationStore) -> None:
    """List only the asking guild's filters."""
    await store.add_filter(GUILD, "lava", "word", "block", MODERATOR)
    await store.add_filter(OTHER_GUILD, "magma", "word", "block", MODERATOR)
    assert [f.pattern for f in await store.filters(GUILD)] == ["lava"]
    assert [f.pattern for f in await store.filters(OTHER_GUILD)] == ["magma"]


async def test_remove_filter_deletes_it_and_returns_it(store: ModerationStore) -> None:
    """Delete a filter by number and return what it was."""
    kept = await store.add_filter(GUILD, "lava", "word", "block", MODERATOR)
    removed = await store.add_filter(GUILD, "magma", "word", "flag", MODERATOR)
    assert await store.remove_filter(GUILD, removed.id) == removed
    assert await store.filters(GUILD) == [kept]


async def test_remove_filter_of_a_missing_number_returns_none(store: ModerationStore) -> None:
    """Return None for a number the guild has no filter under."""
    assert await store.remove_filter(GUILD, 99) is None


async def test_remove_filter_leaves_another_guilds_filter(store: ModerationStore) -> None:
    """Refuse to delete another guild's filter by its number."""
    theirs = await store.add_filter(OTHER_GUILD, "magma", "word", "block", MODERATOR)
    assert await store.remove_filter(GUILD, theirs.id) is None
    assert await store.filters(OTHER_GUILD) == [theirs]


async def test_settings_default_when_never_changed(store: ModerationStore) -> None:
    """Return the default settings for a guild that saved none."""
    assert await store.settings(GUILD) == GuildSettings(GUILD)


async def test_updated_settings_read_back(store: ModerationStore) -> None:
    """Save every setting of a guild and read the same values back."""
    settings = GuildSettings(
        guild_id=GUILD,
        default_filters=True,
        modlog_channel_id=5_555_555_555_555_555_555,
        user_per_minute=2.5,
        user_burst=3,
        guild_per_minute=30.0,
        guild_burst=40,
    )
    await store.update_settings(settings)
    assert await store.settings(GUILD) == settings


async def test_updating_settings_again_replaces_them(store: ModerationStore) -> None:
    """Keep only the latest settings, including values set back to None."""
    await store.update_settings(GuildSettings(GUILD, modlog_channel_id=5, user_burst=3))
    await store.update_settings(GuildSettings(GUILD, default_filters=True))
    assert await store.settings(GUILD) == GuildSettings(GUILD, default_filters=True)


async def test_settings_are_kept_per_guild(store: ModerationStore) -> None:
    """Leave another guild's settings at their defaults."""
    await store.update_settings(GuildSettings(GUILD, default_filters=True, user_burst=9))
    assert await store.settings(OTHER_GUILD) == GuildSettings(OTHER_GUILD)


async def test_a_ban_is_active(store: ModerationStore) -> None:
    """Return a member's ban with its reason, who made it and when."""
    before = time.time()
    await store.ban(GUILD, MEMBER, until=None, reason="spam", banned_by=MODERATOR)
    ban = await store.active_ban(GUILD, MEMBER, time.time())
    assert ban is not None
    assert (ban.user_id, ban.until, ban.reason, ban.banned_by) == (
        MEMBER,
        None,
        "spam",
        str(MODERATOR),
    )
    assert ban.banned_at >= before


async def test_a_ban_is_active_until_it_expires(store: ModerationStore) -> None:
    """Return a timed ban before its end and None from its end on."""
    await store.ban(GUILD, MEMBER, until=5000.0, reason="", banned_by=MODERATOR)
    assert await store.active_ban(GUILD, MEMBER, 4999.0) is not None
    assert await store.active_ban(GUILD, MEMBER, 5000.0) is None


async def test_a_ban_applies_in_its_guild_only(store: ModerationStore) -> None:
    """Return no ban for the same member in another guild."""
    await store.ban(GUILD, MEMBER, until=None, reason="spam", banned_by=MODERATOR)
    assert await store.active_ban(OTHER_GUILD, MEMBER, time.time()) is None


async def test_banning_again_replaces_the_ban(store: ModerationStore) -> None:
    """Keep the latest ban's end and reason."""
    await store.ban(GUILD, MEMBER, until=None, reason="spam", banned_by=MODERATOR)
    await store.ban(GUILD, MEMBER, until=9000.0, reason="reduced", banned_by=MODERATOR)
    ban = await store.active_ban(GUILD, MEMBER, 1000.0)
    assert ban is not None
    assert (ban.until, ban.reason) == (9000.0, "reduced")


async def test_unban_lifts_the_ban(store: ModerationStore) -> None:
    """Remove a ban and say there was one."""
    await store.ban(GUILD, MEMBER, until=None, reason="spam", banned_by=MODERATOR)
    assert await store.unban(GUILD, MEMBER) is True
    assert await store.active_ban(GUILD, MEMBER, time.time()) is None


async def test_unban_of_someone_not_banned_says_so(store: ModerationStore) -> None:
    """Return False when there was no ban to lift."""
    assert await store.unban(GUILD, MEMBER) is False


async def test_an_audit_entry_reads_back(store: ModerationStore) -> None:
    """Return a recorded entry with its guild, actor, action, subject and detail."""
    await store.record(GUILD, MODERATOR, "ban", str(MEMBER), "until lifted; spam")
    [entry] = await store.audit(GUILD)
    assert (entry.guild_id, entry.actor_id, entry.action, entry.subject, entry.detail) == (
        GUILD,
        MODERATOR,
        "ban",
        str(MEMBER),
        "until lifted; spam",
    )


async def test_the_audit_lists_newest_first(store: ModerationStore) -> None:
    """List a guild's entries from the latest to the earliest."""
    for action in ("filter_add", "ban", "unban"):
        await store.record(GUILD, MODERATOR, action)
    assert [entry.action for entry in await store.audit(GUILD)] == ["unban", "ban", "filter_add"]


async def test_the_audit_lists_one_actors_entries(store: ModerationStore) -> None:
    """List only the entries of the member asked about."""
    await store.record(GUILD, MODERATOR, "ban", str(MEMBER))
    await store.record(GUILD, MEMBER, "block", "lava")
    await store.record(GUILD, MEMBER, "flag", "ash")
    by_member = await store.audit(GUILD, actor_id=MEMBER)
    assert [entry.action for entry in by_member] == ["flag", "block"]


async def test_the_audit_is_kept_per_guild(store: ModerationStore) -> None:
    """List none of another guild's entries, nor those recorded outside any guild."""
    await store.record(GUILD, MODERATOR, "ban")
    await store.record(OTHER_GUILD, MODERATOR, "unban")
    await store.record(None, MODERATOR, "withheld")
    assert [entry.action for entry in await store.audit(GUILD)] == ["ban"]


async def test_the_audit_returns_at_most_the_limit(store: ModerationStore) -> None:
    """Return only the latest ``limit`` entries."""
    for number in range(5):
        await store.record(GUILD, MODERATOR, "flag", str(number))
    latest = await store.audit(GUILD, limit=2)
    assert [entry.subject for entry in latest] == ["4", "3"]


async def test_a_long_audit_detail_is_cut(store: ModerationStore) -> None:
    """Keep at most 4000 characters of an entry's detail."""
    await store.record(GUILD, MEMBER, "block", "lava", "x" * 5000)
    [entry] = await store.audit(GUILD)
    assert entry.detail == "x" * 4000
