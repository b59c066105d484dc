"""What moderators' commands change: filters, limits, bans, the mod-log channel, the audit.

Every change is recorded in the audit log with who made it. Rules that span more than one
store live here, not in the commands: banning a member cancels their waiting jobs.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Protocol

from bot.job_context import entries_in_guild
from bot.moderation.filters import check, compile_filter
from pipeline.errors import UserError

if TYPE_CHECKING:
    from bot.moderation.filters import Filter, FilterAction, FilterKind, Verdict
    from bot.moderation.gate import LimitsInForce, ModerationGate
    from bot.permissions import Actor
    from bot.store.moderation import AuditEntry, GuildSettings, ModerationStore
    from pipeline.scheduler import QueueEntry


class WaitingJobs(Protocol):
    """The scheduler, as far as a ban needs it."""

    def entries(self) -> list[QueueEntry]:
        """List running and waiting jobs."""

    async def cancel(self, job_id: str, reason: str) -> bool:
        """Cancel a job; return whether it was still unfinished."""


class ModerationAdmin:
    """Carry out moderators' changes to a guild's moderation, recording each."""

    def __init__(self, store: ModerationStore, gate: ModerationGate, jobs: WaitingJobs) -> None:
        self._store = store
        self._gate = gate
        self._jobs = jobs

    async def add_filter(
        self, actor: Actor, pattern: str, kind: FilterKind, action: FilterAction
    ) -> Filter:
        """Save a filter after checking it compiles (RE2, linear time)."""
        compile_filter(pattern, kind)
        saved = await self._store.add_filter(
            _guild(actor), pattern.strip(), kind, action, actor.user_id
        )
        await self._gate.record(actor, "filter_add", f"#{saved.id}", f"{kind} {action}: {pattern}")
        return saved

    async def remove_filter(self, actor: Actor, number: int) -> Filter:
        """Delete one of the guild's filters by number."""
        removed = await self._store.remove_filter(_guild(actor), number)
        if removed is None:
            raise UserError(f"There is no filter #{number} here; /filter list shows them.")
        await self._gate.record(actor, "filter_remove", f"#{number}", removed.pattern)
        return removed

    async def own_filters(self, actor: Actor) -> tuple[list[Filter], GuildSettings]:
        """Return the guild's own filters and its settings (whether the built-in list is on)."""
        guild_id = _guild(actor)
        return await self._store.filters(guild_id), await self._store.settings(guild_id)

    async def test_text(self, actor: Actor, text: str) -> Verdict:
        """Check a text against the filters in force, recording nothing."""
        return check([text], await self._gate.filters(_guild(actor)))

    async def use_default_filters(self, actor: Actor, *, on: bool) -> None:
        """Switch the built-in filter list on or off."""
        await self._update(actor, default_filters=on)
        await self._gate.record(actor, "filter_defaults", "on" if on else "off")

    async def limits(self, actor: Actor) -> LimitsInForce:
        """Return the limits in force in the actor's guild."""
        return await self._gate.limits(_guild(actor))

    async def set_limits(
        self,
        actor: Actor,
        *,
        per_minute: float,
        burst: int,
        server_per_minute: float | None,
        server_burst: int | None,
    ) -> None:
        """Save new limits; a server rate of 0 removes the server's budget."""
        changes: dict[str, object] = {"user_per_minute": per_minute, "user_burst": burst}
        if server_per_minute is not None:
            changes["guild_per_minute"] = server_per_minute  # 0: no budget, whatever the config
        if server_burst is not None:
            changes["guild_burst"] = server_burst
        await self._update(actor, **changes)
        detail = f"user {per_minute:g}/min burst {burst}; server {server_per_minute}/{server_burst}"
        await self._gate.record(actor, "limits_set", "", detail)

    async def ban(self, actor: Actor, user_id: int, *, until: float | None, reason: str) -> int:
        """Ban a member, cancel their waiting jobs in this guild; return how many were canceled."""
        guild_id = _guild(actor)
        await self._store.ban(
            guild_id, user_id, until=until, reason=reason, banned_by=actor.user_id
        )
        canceled = 0
        for entry in entries_in_guild(self._jobs.entries(), guild_id):
            if entry.owner == str(user_id) and entry.status == "pending":
                canceled += await self._jobs.cancel(entry.job_id, "canceled: you were banned.")
        until_text = "until lifted" if until is None else f"until <t:{int(until)}:f>"
        await self._gate.record(actor, "ban", str(user_id), f"{until_text}; {reason}")
        return canceled

    async def unban(self, actor: Actor, user_id: int) -> None:
        """Lift a ban."""
        if not await self._store.unban(_guild(actor), user_id):
            raise UserError(f"<@{user_id}> is not banned here.")
        await self._gate.record(actor, "unban", str(user_id))

    async def audit(self, actor: Actor, *, about: int | None) -> list[AuditEntry]:
        """Return the latest audit entries, optionally those of one member."""
        return await self._store.audit(_guild(actor), actor_id=about)

    async def set_modlog(self, actor: Actor, channel_id: int | None) -> None:
        """Send the mod-log to a channel, or turn it off."""
        await self._update(actor, modlog_channel_id=channel_id)
        await self._gate.record(actor, "modlog", str(channel_id or "off"))

    async def _update(self, actor: Actor, **changes: object) -> None:
        """Change some of the guild's settings."""
        settings = await self._store.settings(_guild(actor))
        await self._store.update_settings(dataclasses.replace(settings, **changes))  # type: ignore[arg-type]


def _guild(actor: Actor) -> int:
    """Return the guild id (moderation works in servers only)."""
    if actor.guild_id is None:
        raise UserError("This command works in a server, not in direct messages.")
    return actor.guild_id
