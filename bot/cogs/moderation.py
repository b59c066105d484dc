"""Moderator commands: /filter, /limits, /ban, /unban, /audit and /modlog.

Discord hides them from members without Manage Messages (``default_permissions``), but treats
that as a hint a server can override, so every command checks again when it runs.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.moderation.durations import parse_duration
from bot.moderation.filters import check, compile_filter, describe_verdict
from bot.permissions import is_moderator
from bot.store.moderation import PAGE_SIZE
from pipeline.errors import UserError

if TYPE_CHECKING:
    from bot.client import EaselBot

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

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Let only moderators run these commands, whatever Discord was told to show."""
        if is_moderator(interaction, self.bot.config.discord.moderator_role):
            return True
        await interaction.response.send_message(NOT_A_MODERATOR, ephemeral=True)
        return False

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Answer a refused check or a user mistake privately; let the rest be logged."""
        original = getattr(error, "original", error)
        if isinstance(error, app_commands.CheckFailure) and interaction.response.is_done():
            return
        if isinstance(original, UserError):
            await _reply(interaction, str(original))
            return
        raise error

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
        """Save a filter after checking it compiles (RE2, linear time)."""
        compile_filter(pattern, kind)
        guild_id = _guild(interaction)
        saved = await self.bot.moderation.add_filter(
            guild_id, pattern.strip(), kind, action, interaction.user.id
        )
        await self.bot.guard.record(
            interaction, "filter_add", f"#{saved.id}", f"{kind} {action}: {pattern}"
        )
        await _reply(interaction, f"Added {kind} filter #{saved.id} ({action}): `{saved.pattern}`.")

    @filters.command(name="remove", description="Remove a filter by its number")
    async def filter_remove(self, interaction: discord.Interaction, number: int) -> None:
        """Delete a filter of this guild."""
        removed = await self.bot.moderation.remove_filter(_guild(interaction), number)
        if removed is None:
            raise UserError(f"There is no filter #{number} here; /filter list shows them.")
        await self.bot.guard.record(interaction, "filter_remove", f"#{number}", removed.pattern)
        await _reply(interaction, f"Removed {removed.kind} filter #{number}: `{removed.pattern}`.")

    @filters.command(name="list", description="List this server's filters")
    async def filter_list(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1] = 1
    ) -> None:
        """Show one page of filters and whether the built-in list is on."""
        guild_id = _guild(interaction)
        filters = await self.bot.moderation.filters(guild_id)
        settings = await self.bot.moderation.settings(guild_id)
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
        await _reply(interaction, "\n".join(lines))

    @filters.command(name="test", description="Check a text against this server's filters")
    async def filter_test(
        self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 2000]
    ) -> None:
        """Say Blocked or Allowed, which filter matched, and the normalised text."""
        verdict = check([text], await self.bot.guard.filters(_guild(interaction)))
        await _reply(interaction, describe_verdict(verdict))

    @filters.command(
        name="defaults", description="Switch the built-in list (nudity, sex, gore) on or off"
    )
    async def filter_defaults(
        self, interaction: discord.Interaction, state: Literal["on", "off"]
    ) -> None:
        """Turn the built-in filter list on or off for this guild."""
        guild_id = _guild(interaction)
        settings = await self.bot.moderation.settings(guild_id)
        await self.bot.moderation.update_settings(
            dataclasses.replace(settings, default_filters=state == "on")
        )
        await self.bot.guard.record(interaction, "filter_defaults", state)
        await _reply(interaction, f"The built-in filter list is now {state}.")

    # /limits

    @limits.command(name="show", description="Show the limits in force")
    async def limits_show(self, interaction: discord.Interaction) -> None:
        """Describe the per-user and per-server limits."""
        settings = await self.bot.moderation.settings(_guild(interaction))
        defaults = self.bot.config.moderation
        user_rate = settings.user_per_minute or defaults.user_per_minute
        user_burst = settings.user_burst or defaults.user_burst
        guild_rate = settings.guild_per_minute or defaults.guild_per_minute
        guild_burst = settings.guild_burst or defaults.guild_burst
        lines = [
            f"Each member: {user_rate:g} jobs a minute, up to {user_burst} at once.",
            f"The whole server: {guild_rate:g} jobs a minute, up to {guild_burst} at once."
            if guild_rate
            else "The whole server: no budget.",
            "Moderators are exempt."
            if defaults.exempt_moderators
            else "Moderators are limited too.",
        ]
        await _reply(interaction, "\n".join(lines))

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
        guild_id = _guild(interaction)
        settings = await self.bot.moderation.settings(guild_id)
        updated = dataclasses.replace(settings, user_per_minute=per_minute, user_burst=burst)
        if server_per_minute is not None:
            updated = dataclasses.replace(updated, guild_per_minute=server_per_minute or None)
        if server_burst is not None:
            updated = dataclasses.replace(updated, guild_burst=server_burst)
        await self.bot.moderation.update_settings(updated)
        detail = f"user {per_minute:g}/min burst {burst}; server {server_per_minute}/{server_burst}"
        await self.bot.guard.record(interaction, "limits_set", "", detail)
        await _reply(
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
        """Ban a member, cancel their waiting jobs, and record it."""
        seconds = parse_duration(duration)
        until = None if seconds is None else time.time() + seconds
        guild_id = _guild(interaction)
        await self.bot.moderation.ban(
            guild_id, user.id, until=until, reason=reason or "", banned_by=interaction.user.id
        )
        canceled = 0
        for entry in self.bot.scheduler.entries():
            same_guild = str(entry.context.get("guild_id")) == str(guild_id)
            if entry.owner == str(user.id) and same_guild and entry.status == "pending":
                canceled += await self.bot.scheduler.cancel(
                    entry.job_id, "canceled: you were banned."
                )
        until_text = "until lifted" if until is None else f"until <t:{int(until)}:f>"
        await self.bot.guard.record(
            interaction, "ban", str(user.id), f"{until_text}; {reason or ''}"
        )
        await _reply(
            interaction, f"Banned <@{user.id}> {until_text}; {canceled} waiting job(s) canceled."
        )

    @app_commands.command(name="unban", description="Let a banned member use Easel again")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    async def unban(self, interaction: discord.Interaction, user: discord.User) -> None:
        """Lift a ban."""
        lifted = await self.bot.moderation.unban(_guild(interaction), user.id)
        if not lifted:
            raise UserError(f"<@{user.id}> is not banned here.")
        await self.bot.guard.record(interaction, "unban", str(user.id))
        await _reply(interaction, f"<@{user.id}> may use Easel again.")

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
        entries = await self.bot.moderation.audit(
            _guild(interaction), actor_id=user.id if user else None
        )
        lines = [f"**Audit log**{f' for <@{user.id}>' if user else ''}, newest first:"]
        lines += [
            f"<t:{int(e.at)}:R> <@{e.actor_id}> **{e.action}** "
            f"{e.subject} {e.detail[:120]}".rstrip()
            for e in entries
        ]
        if not entries:
            lines.append("Nothing recorded yet.")
        await _reply(interaction, "\n".join(lines)[:1990])

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
        guild_id = _guild(interaction)
        settings = await self.bot.moderation.settings(guild_id)
        new_id = channel.id if channel else None
        await self.bot.moderation.update_settings(
            dataclasses.replace(settings, modlog_channel_id=new_id)
        )
        await self.bot.guard.record(interaction, "modlog", str(new_id or "off"))
        text = f"The mod-log now goes to <#{channel.id}>." if channel else "The mod-log is off."
        await _reply(interaction, text)


def _guild(interaction: discord.Interaction) -> int:
    """Return the guild id (these commands are guild-only)."""
    if interaction.guild_id is None:
        raise UserError("This command works in a server, not in direct messages.")
    return interaction.guild_id


async def _reply(interaction: discord.Interaction, text: str) -> None:
    """Answer privately, whether or not the interaction was answered before."""
    if interaction.response.is_done():
        await interaction.followup.send(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )
    else:
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )
