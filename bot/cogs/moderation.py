"""Moderator commands: /filter, /limits, /ban, /unban, /audit and /modlog.

Discord hides them from members without Manage Messages (``default_permissions``), but treats
that as a hint a server can override, so every command checks again when it runs. The cog
only describes commands and words the answers; :class:`ModerationAdmin` does the work.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.moderation.durations import parse_duration
from bot.moderation.filters import describe_verdict
from bot.permissions import Actor
from bot.replies import reply_privately
from bot.store.moderation import PAGE_SIZE

if TYPE_CHECKING:
    from bot.moderation.admin import ModerationAdmin

MODERATORS = discord.Permissions(manage_messages=True)
NOT_A_MODERATOR = "Only moderators (Manage Messages, or the moderator role) can use this."


class ModerationCog(commands.Cog):
    """Filters, limits, bans, the audit log and the mod-log channel, per guild."""

    filters = app_commands.Group(
        name="filter",
        description="Words, phrases and patterns to block or flag in prompts",
        guild_only=True,
        default_permissions=MODERATORS,
    )
    limits = app_commands.Group(
        name="limits",
        description="How many images members may make",
        guild_only=True,
        default_permissions=MODERATORS,
    )

    def __init__(self, admin: ModerationAdmin, *, moderator_role: str | None) -> None:
        self._admin = admin
        self._moderator_role = moderator_role

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Let only moderators run these commands, whatever Discord was told to show."""
        if self._actor(interaction).moderator:
            return True
        await interaction.response.send_message(NOT_A_MODERATOR, ephemeral=True)
        return False

    def _actor(self, interaction: discord.Interaction) -> Actor:
        """Return who runs the command."""
        return Actor.of(interaction, self._moderator_role)

    # /filter

    @filters.command(name="add", description="Block (or flag) a word, phrase or RE2 regex")
    @app_commands.describe(pattern="What to match", kind="How to match it", action="What happens")
    async def filter_add(
        self,
        interaction: discord.Interaction,
        pattern: app_commands.Range[str, 1, 300],
        kind: Literal["word", "phrase", "regex"] = "word",
        action: Literal["block", "flag"] = "block",
    ) -> None:
        """Save a filter."""
        saved = await self._admin.add_filter(self._actor(interaction), pattern, kind, action)
        text = f"Added {kind} filter #{saved.id} ({action}): `{saved.pattern}`."
        await reply_privately(interaction, text)

    @filters.command(name="remove", description="Remove a filter by its number")
    async def filter_remove(self, interaction: discord.Interaction, number: int) -> None:
        """Delete a filter of this guild."""
        removed = await self._admin.remove_filter(self._actor(interaction), number)
        text = f"Removed {removed.kind} filter #{number}: `{removed.pattern}`."
        await reply_privately(interaction, text)

    @filters.command(name="list", description="List this server's filters")
    async def filter_list(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1] = 1
    ) -> None:
        """Show one page of filters and whether the built-in list is on."""
        filters, settings = await self._admin.own_filters(self._actor(interaction))
        pages = max(1, -(-len(filters) // PAGE_SIZE))
        shown = filters[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        built_in = "on" if settings.default_filters else "off"
        lines = [f"**Filters** (page {min(page, pages)} of {pages}); built-in list: {built_in}"]
        lines += [
            f"#{f.id} {f.kind} · {f.action} · `{f.pattern}` — "
            f"<@{f.added_by}>, <t:{int(f.added_at)}:d>"
            for f in shown
        ]
        if not filters:
            lines.append("No filters yet: /filter add pattern:<text>.")
        await reply_privately(interaction, "\n".join(lines))

    @filters.command(name="test", description="Check a text against this server's filters")
    async def filter_test(
        self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 2000]
    ) -> None:
        """Say Blocked or Allowed, which filter matched, and the normalised text."""
        verdict = await self._admin.test_text(self._actor(interaction), text)
        await reply_privately(interaction, describe_verdict(verdict))

    @filters.command(
        name="defaults", description="Switch the built-in list (nudity, sex, gore) on or off"
    )
    async def filter_defaults(
        self, interaction: discord.Interaction, state: Literal["on", "off"]
    ) -> None:
        """Turn the built-in filter list on or off for this guild."""
        await self._admin.use_default_filters(self._actor(interaction), on=state == "on")
        await reply_privately(interaction, f"The built-in filter list is now {state}.")

    # /limits

    @limits.command(name="show", description="Show the limits in force")
    async def limits_show(self, interaction: discord.Interaction) -> None:
        """Describe the per-user and per-server limits."""
        limits = await self._admin.limits(self._actor(interaction))
        member, guild = limits.member, limits.guild
        lines = [
            f"Each member: {member.per_minute:g} jobs a minute, up to {member.burst} at once.",
            f"The whole server: {guild.per_minute:g} jobs a minute, up to {guild.burst} at once."
            if guild
            else "The whole server: no budget.",
            "Moderators are exempt." if limits.exempt_moderators else "Moderators are limited too.",
        ]
        await reply_privately(interaction, "\n".join(lines))

    @limits.command(
        name="set", description="Change the limits (0 for the server removes its budget)"
    )
    async def limits_set(
        self,
        interaction: discord.Interaction,
        per_minute: app_commands.Range[float, 0.1, 600.0],
        burst: app_commands.Range[int, 1, 1000],
        server_per_minute: app_commands.Range[float, 0.0, 6000.0] | None = None,
        server_burst: app_commands.Range[int, 1, 10000] | None = None,
    ) -> None:
        """Save new limits for this guild."""
        await self._admin.set_limits(
            self._actor(interaction),
            per_minute=per_minute,
            burst=burst,
            server_per_minute=server_per_minute,
            server_burst=server_burst,
        )
        await reply_privately(
            interaction,
            f"Limits saved: each member {per_minute:g} a minute, up to {burst} at once.",
        )

    # /ban, /unban

    @app_commands.command(name="ban", description="Stop a member from using Easel here")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.describe(duration="e.g. 30m, 12h, 7d; leave out to ban until lifted")
    async def ban(
        self,
        interaction: discord.Interaction,
        user: discord.User,
        duration: str | None = None,
        reason: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        """Ban a member; their waiting jobs are canceled."""
        seconds = parse_duration(duration)
        until = None if seconds is None else time.time() + seconds
        canceled = await self._admin.ban(
            self._actor(interaction), user.id, until=until, reason=reason or ""
        )
        until_text = "until lifted" if until is None else f"until <t:{int(until)}:f>"
        await reply_privately(
            interaction, f"Banned <@{user.id}> {until_text}; {canceled} waiting job(s) canceled."
        )

    @app_commands.command(name="unban", description="Let a banned member use Easel again")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    async def unban(self, interaction: discord.Interaction, user: discord.User) -> None:
        """Lift a ban."""
        await self._admin.unban(self._actor(interaction), user.id)
        await reply_privately(interaction, f"<@{user.id}> may use Easel again.")

    # /audit, /modlog

    @app_commands.command(
        name="audit", description="Recent jobs, blocks, flags and moderator actions"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    async def audit(
        self, interaction: discord.Interaction, user: discord.User | None = None
    ) -> None:
        """Show the latest audit entries, optionally for one member."""
        entries = await self._admin.audit(self._actor(interaction), about=user.id if user else None)
        lines = [f"**Audit log**{f' for <@{user.id}>' if user else ''}, newest first:"]
        lines += [
            f"<t:{int(e.at)}:R> <@{e.actor_id}> **{e.action}** "
            f"{e.subject} {e.detail[:120]}".rstrip()
            for e in entries
        ]
        if not entries:
            lines.append("Nothing recorded yet.")
        await reply_privately(interaction, "\n".join(lines)[:1990])

    @app_commands.command(
        name="modlog",
        description="Choose the channel that receives blocks, flags and withheld images",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    async def modlog(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """Set (or, with no channel, turn off) the mod-log channel."""
        await self._admin.set_modlog(self._actor(interaction), channel.id if channel else None)
        text = f"The mod-log now goes to <#{channel.id}>." if channel else "The mod-log is off."
        await reply_privately(interaction, text)
