"""Moderators' changes on a real store and gate: filters, limits, bans and their audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from bot.config import ModerationSettings
from bot.job_context import JobContext, JobKind
from bot.moderation.admin import ModerationAdmin
from bot.moderation.gate import BannedError, ModerationGate
from bot.moderation.ratelimit import RateLimit
from bot.permissions import Actor
from bot.store.moderation import GuildSettings, ModerationStore
from pipeline.config import GenerationSettings
from pipeline.errors import UserError
from pipeline.request import parse_request
from pipeline.scheduler import QueueEntry
from tests.request_fixtures import sd_profile

if TYPE_CHECKING:
    from bot.store.database import Database
    from pipeline.jobs import JobStatus

GUILD = 1_111_111_111_111_111_111
OTHER_GUILD = 2_222_222_222_222_222_222
MODERATOR_ID = 3_333_333_333_333_333_333
MEMBER_ID = 4_444_444_444_444_444_444
OTHER_MEMBER_ID = 5_555_555_555_555_555_555
NOW = 1_800_000_000.0

MODERATOR = Actor(user_id=MODERATOR_ID, guild_id=GUILD, name="moderator", moderator=True)
IN_DIRECT_MESSAGES = Actor(user_id=MODERATOR_ID, guild_id=None, name="moderator", moderator=True)
MEMBER = Actor(user_id=MEMBER_ID, guild_id=GUILD, name="member", moderator=False)

Command = Callable[[ModerationAdmin, Actor], Awaitable[object]]


@dataclass
class FakeScheduler:
    """The scheduler as a ban sees it: a fixed queue listing, and the cancels asked for."""

    queue: list[QueueEntry] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)
    canceled: list[tuple[str, str]] = field(default_factory=list)

    def entries(self) -> list[QueueEntry]:
        """List the queue."""
        return list(self.queue)

    async def cancel(self, job_id: str, reason: str) -> bool:
        """Record the cancel; say whether the job was still unfinished."""
        self.canceled.append((job_id, reason))
        return job_id not in self.finished


def entry(job_id: str, owner: int, status: JobStatus, guild_id: int | None) -> QueueEntry:
    """Return a queue line for a job made in ``guild_id`` (None: in direct messages)."""
    request = parse_request(
        "a fox",
        settings=GenerationSettings(),
        profile=sd_profile((512, 512)),
        seed_source=lambda: 1,
    )
    context = JobContext(kind=JobKind.IMAGINE, channel_id=7, application_id=8, guild_id=guild_id)
    return QueueEntry(
        job_id=job_id,
        owner=str(owner),
        status=status,
        position=None if status == "running" else 1,
        request=request,
        context=context.to_stored(),
    )


@pytest.fixture
def store(database: Database) -> ModerationStore:
    """Build the moderation store on a fresh, migrated database."""
    return ModerationStore(database)


@pytest.fixture
def gate(store: ModerationStore) -> ModerationGate:
    """Build a gate with the config's defaults, a poster that drops posts, and no classifier."""

    async def post_nowhere(guild_id: int, channel_id: int, text: str) -> None:
        """Drop the post."""

    return ModerationGate(ModerationSettings(), store, post_nowhere, None, clock=lambda: NOW)


@pytest.fixture
def scheduler() -> FakeScheduler:
    """Give the admin an empty queue."""
    return FakeScheduler()


@pytest.fixture
def admin(
    store: ModerationStore, gate: ModerationGate, scheduler: FakeScheduler
) -> ModerationAdmin:
    """Build the admin on the real store and gate."""
    return ModerationAdmin(store, gate, scheduler)


# Each change, keyed by the audit action it records; filter #1 and MEMBER's ban exist first.
CHANGES: dict[str, Command] = {
    "filter_add": lambda admin, actor: admin.add_filter(actor, "magma", "word", "block"),
    "filter_remove": lambda admin, actor: admin.remove_filter(actor, 1),
    "filter_defaults": lambda admin, actor: admin.use_default_filters(actor, on=True),
    "limits_set": lambda admin, actor: admin.set_limits(
        actor, per_minute=2.0, burst=3, server_per_minute=None, server_burst=None
    ),
    "ban": lambda admin, actor: admin.ban(actor, OTHER_MEMBER_ID, until=None, reason="spam"),
    "unban": lambda admin, actor: admin.unban(actor, MEMBER_ID),
    "modlog": lambda admin, actor: admin.set_modlog(actor, 99),
}
READS: dict[str, Command] = {
    "own_filters": lambda admin, actor: admin.own_filters(actor),
    "test_text": lambda admin, actor: admin.test_text(actor, "a fox"),
    "audit": lambda admin, actor: admin.audit(actor, about=None),
}


async def test_a_valid_filter_is_saved(admin: ModerationAdmin, store: ModerationStore) -> None:
    """Save a filter that compiles, trimmed, as the moderator's."""
    saved = await admin.add_filter(MODERATOR, "  lava  ", "word", "block")
    assert await store.filters(GUILD) == [saved]
    assert (saved.pattern, saved.added_by) == ("lava", str(MODERATOR_ID))


async def test_a_regex_re2_cannot_run_is_refused(
    admin: ModerationAdmin, store: ModerationStore
) -> None:
    """Refuse a backreference with a UserError saying why, saving and recording nothing."""
    with pytest.raises(UserError, match="backreferences"):
        await admin.add_filter(MODERATOR, r"(lava)\1", "regex", "block")
    assert await store.filters(GUILD) == []
    assert await store.audit(GUILD) == []


async def test_removing_a_filter_deletes_it(admin: ModerationAdmin, store: ModerationStore) -> None:
    """Delete the numbered filter and return it."""
    saved = await admin.add_filter(MODERATOR, "lava", "word", "block")
    assert await admin.remove_filter(MODERATOR, saved.id) == saved
    assert await store.filters(GUILD) == []


async def test_removing_a_missing_filter_is_refused(
    admin: ModerationAdmin, store: ModerationStore
) -> None:
    """Raise a UserError for a number the guild has no filter under, recording nothing."""
    with pytest.raises(UserError, match="There is no filter #9 here"):
        await admin.remove_filter(MODERATOR, 9)
    assert await store.audit(GUILD) == []


@pytest.mark.parametrize("action", sorted(CHANGES))
async def test_each_change_is_audited_with_its_actor(
    admin: ModerationAdmin, store: ModerationStore, action: str
) -> None:
    """Record every change in the audit log under the moderator who made it."""
    await store.add_filter(GUILD, "lava", "word", "block", MODERATOR_ID)
    await store.ban(GUILD, MEMBER_ID, until=None, reason="", banned_by=MODERATOR_ID)
    await CHANGES[action](admin, MODERATOR)
    [latest] = await store.audit(GUILD)
    assert (latest.action, latest.actor_id, latest.guild_id) == (action, MODERATOR_ID, GUILD)


async def test_switching_the_built_in_list_on_puts_it_in_force(
    admin: ModerationAdmin, gate: ModerationGate, store: ModerationStore
) -> None:
    """Add the built-in filters to those in force once switched on."""
    own = await admin.add_filter(MODERATOR, "lava", "word", "block")
    await admin.use_default_filters(MODERATOR, on=True)
    assert (await store.settings(GUILD)).default_filters is True
    assert len(await gate.filters(GUILD)) > 1
    assert (await gate.filters(GUILD))[0] == own


async def test_set_limits_puts_the_limits_in_force(
    admin: ModerationAdmin, gate: ModerationGate
) -> None:
    """Apply the member and server limits a moderator set."""
    await admin.set_limits(
        MODERATOR, per_minute=2.0, burst=3, server_per_minute=30.0, server_burst=40
    )
    limits = await gate.limits(GUILD)
    assert (limits.member, limits.guild) == (RateLimit(2.0, 3), RateLimit(30.0, 40))


async def test_a_server_rate_of_zero_removes_the_server_budget(
    admin: ModerationAdmin, gate: ModerationGate, store: ModerationStore
) -> None:
    """Give the server no shared budget after a moderator sets its rate to 0."""
    await admin.set_limits(
        MODERATOR, per_minute=2.0, burst=3, server_per_minute=30.0, server_burst=40
    )
    await admin.set_limits(
        MODERATOR, per_minute=2.0, burst=3, server_per_minute=0, server_burst=None
    )
    assert (await store.settings(GUILD)).guild_per_minute == 0
    assert (await gate.limits(GUILD)).guild is None


async def test_a_server_rate_of_zero_overrides_a_configured_budget(
    store: ModerationStore, scheduler: FakeScheduler
) -> None:
    """Remove the server's budget even when the config gives every server one."""

    async def post_nowhere(guild_id: int, channel_id: int, text: str) -> None:
        """Drop the post."""

    defaults = ModerationSettings(guild_per_minute=30.0)
    gate = ModerationGate(defaults, store, post_nowhere, None, clock=lambda: NOW)
    admin = ModerationAdmin(store, gate, scheduler)
    assert (await gate.limits(GUILD)).guild == RateLimit(30.0, defaults.guild_burst)
    await admin.set_limits(
        MODERATOR, per_minute=2.0, burst=3, server_per_minute=0, server_burst=None
    )
    assert (await gate.limits(GUILD)).guild is None


async def test_set_limits_without_a_server_rate_keeps_the_server_budget(
    admin: ModerationAdmin, gate: ModerationGate
) -> None:
    """Leave the server's budget as it was when only the member's limits change."""
    await admin.set_limits(
        MODERATOR, per_minute=2.0, burst=3, server_per_minute=30.0, server_burst=40
    )
    await admin.set_limits(
        MODERATOR, per_minute=5.0, burst=1, server_per_minute=None, server_burst=None
    )
    limits = await gate.limits(GUILD)
    assert (limits.member, limits.guild) == (RateLimit(5.0, 1), RateLimit(30.0, 40))


async def test_set_limits_keeps_the_guilds_other_settings(
    admin: ModerationAdmin, store: ModerationStore
) -> None:
    """Change the limits without touching the mod-log channel or the built-in list."""
    await store.update_settings(GuildSettings(GUILD, default_filters=True, modlog_channel_id=99))
    await admin.set_limits(
        MODERATOR, per_minute=2.0, burst=3, server_per_minute=None, server_burst=None
    )
    settings = await store.settings(GUILD)
    assert (settings.default_filters, settings.modlog_channel_id) == (True, 99)


async def test_a_ban_refuses_the_member(admin: ModerationAdmin, gate: ModerationGate) -> None:
    """Refuse the banned member at the gate, with the ban's reason."""
    await admin.ban(MODERATOR, MEMBER_ID, until=NOW + 60, reason="spam")
    with pytest.raises(BannedError, match="Reason: spam"):
        await gate.refuse_if_banned(MEMBER)


async def test_a_ban_cancels_only_the_members_waiting_jobs_here(
    admin: ModerationAdmin, scheduler: FakeScheduler
) -> None:
    """Cancel the member's waiting jobs in this guild, and return how many."""
    scheduler.queue = [
        entry("waiting-1", MEMBER_ID, "pending", GUILD),
        entry("running", MEMBER_ID, "running", GUILD),
        entry("someone-else", OTHER_MEMBER_ID, "pending", GUILD),
        entry("other-guild", MEMBER_ID, "pending", OTHER_GUILD),
        entry("direct-message", MEMBER_ID, "pending", None),
        entry("waiting-2", MEMBER_ID, "pending", GUILD),
    ]
    canceled = await admin.ban(MODERATOR, MEMBER_ID, until=None, reason="spam")
    assert canceled == 2
    assert [job_id for job_id, _ in scheduler.canceled] == ["waiting-1", "waiting-2"]


async def test_a_ban_tells_the_member_why_their_jobs_stopped(
    admin: ModerationAdmin, scheduler: FakeScheduler
) -> None:
    """Cancel each waiting job with a reason that says the member was banned."""
    scheduler.queue = [entry("waiting", MEMBER_ID, "pending", GUILD)]
    await admin.ban(MODERATOR, MEMBER_ID, until=None, reason="spam")
    [(_, reason)] = scheduler.canceled
    assert "banned" in reason


async def test_a_ban_counts_only_jobs_still_unfinished(
    admin: ModerationAdmin, scheduler: FakeScheduler
) -> None:
    """Leave out of the count a job that finished before its cancel arrived."""
    scheduler.queue = [
        entry("finished", MEMBER_ID, "pending", GUILD),
        entry("waiting", MEMBER_ID, "pending", GUILD),
    ]
    scheduler.finished = {"finished"}
    assert await admin.ban(MODERATOR, MEMBER_ID, until=None, reason="") == 1


async def test_unban_lifts_the_ban(admin: ModerationAdmin, gate: ModerationGate) -> None:
    """Let a member through the gate again once unbanned."""
    await admin.ban(MODERATOR, MEMBER_ID, until=None, reason="spam")
    await admin.unban(MODERATOR, MEMBER_ID)
    await gate.refuse_if_banned(MEMBER)


async def test_unban_of_someone_not_banned_is_refused(
    admin: ModerationAdmin, store: ModerationStore
) -> None:
    """Raise a UserError naming the member, recording nothing."""
    with pytest.raises(UserError, match=f"<@{MEMBER_ID}> is not banned here"):
        await admin.unban(MODERATOR, MEMBER_ID)
    assert await store.audit(GUILD) == []


async def test_the_audit_lists_one_members_entries(
    admin: ModerationAdmin, store: ModerationStore
) -> None:
    """Return only the entries of the member asked about."""
    await store.record(GUILD, MEMBER_ID, "block", "lava")
    await admin.add_filter(MODERATOR, "ash", "word", "flag")
    [entry_about] = await admin.audit(MODERATOR, about=MEMBER_ID)
    assert (entry_about.action, entry_about.actor_id) == ("block", MEMBER_ID)


async def test_set_modlog_off_clears_the_channel(
    admin: ModerationAdmin, store: ModerationStore
) -> None:
    """Turn the mod-log off with no channel."""
    await admin.set_modlog(MODERATOR, 99)
    await admin.set_modlog(MODERATOR, None)
    assert (await store.settings(GUILD)).modlog_channel_id is None


@pytest.mark.parametrize("command", sorted({**CHANGES, **READS}))
async def test_commands_outside_a_server_are_refused(admin: ModerationAdmin, command: str) -> None:
    """Raise a UserError for every command used in direct messages."""
    with pytest.raises(UserError, match="works in a server"):
        await {**CHANGES, **READS}[command](admin, IN_DIRECT_MESSAGES)
