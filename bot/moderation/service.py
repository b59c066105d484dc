"""The bot's moderation: bans, prompt filters, rate limits, image safety, audit and mod-log.

Everything here runs after an interaction is acknowledged. Refusals are ``UserError``s with
a short reason for the user; moderators get the full story in the audit log and, if the
guild set one, the mod-log channel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from PIL import Image

from bot.moderation.defaults import DEFAULT_FILTERS
from bot.moderation.filters import check
from bot.moderation.image_safety import decide_showing, placeholder, read_safely
from bot.permissions import is_moderator
from pipeline.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bot.config import BotConfig
    from bot.moderation.filters import Filter
    from bot.moderation.image_safety import SafetyClassifier
    from bot.store.moderation import ModerationStore
    from pipeline.jobs import JobRecord

logger = logging.getLogger(__name__)


class BannedError(UserError):
    """The user is banned from using the bot in this guild."""


class PromptBlockedError(UserError):
    """A filter blocked the prompt."""


@dataclass(frozen=True)
class Screened:
    """Images ready to post: withheld ones replaced by placeholders, and how to show them."""

    images: list[Image.Image]
    withheld: tuple[int, ...]
    spoiler: bool


class ModerationService:
    """Apply a guild's moderation to the people, prompts and images passing through."""

    def __init__(
        self,
        config: BotConfig,
        store: ModerationStore,
        client: discord.Client,
        classifier: SafetyClassifier | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._store = store
        self._client = client
        self._classifier = classifier
        self._clock = clock

    async def refuse_if_banned(self, interaction: discord.Interaction) -> None:
        """Raise BannedError, with until when and why, for a banned user."""
        if interaction.guild_id is None:
            return
        ban = await self._store.active_ban(interaction.guild_id, interaction.user.id, self._clock())
        if ban is None:
            return
        until = (
            "until a moderator lifts it" if ban.until is None else f"until <t:{int(ban.until)}:f>"
        )
        reason = f" Reason: {ban.reason}" if ban.reason else ""
        raise BannedError(f"You are banned from using Easel on this server {until}.{reason}")

    async def screen_prompt(self, interaction: discord.Interaction, texts: Sequence[str]) -> None:
        """Block (raise) or flag a prompt by the guild's filters, recording either."""
        guild_id = interaction.guild_id
        if guild_id is None:
            return
        verdict = check(texts, await self.filters(guild_id))
        if not verdict.blocked and not verdict.flagged:
            return
        matched = verdict.blocking or verdict.flagging
        names = ", ".join(f"{f.describe()} (`{f.pattern}`)" for f in matched)
        prompt = " | ".join(t for t in texts if t)
        action = "block" if verdict.blocked else "flag"
        await self._store.record(guild_id, interaction.user.id, action, names, prompt)
        what = "⛔ Blocked" if verdict.blocked else "🚩 Flagged"
        await self.modlog(
            guild_id,
            f"{what} a prompt by <@{interaction.user.id}> ({names}):\n>>> {prompt[:1500]}",
        )
        if verdict.blocked:
            classes = ", ".join(sorted({f.label or f"a {f.kind} filter" for f in verdict.blocking}))
            raise PromptBlockedError(
                f"Blocked: your prompt matches this server's filters ({classes}). "
                "Change the wording and try again."
            )

    async def filters(self, guild_id: int) -> list[Filter]:
        """Return the filters in force in a guild: its own, plus the built-in list if on."""
        own = await self._store.filters(guild_id)
        settings = await self._store.settings(guild_id)
        return [*own, *DEFAULT_FILTERS] if settings.default_filters else own

    async def rate_limits(self, interaction: discord.Interaction) -> list[dict[str, Any]]:
        """Return the limits to charge for a new job (none for exempt moderators)."""
        guild_id = interaction.guild_id
        moderation = self._config.moderation
        if guild_id is None:
            return []
        if moderation.exempt_moderators and is_moderator(
            interaction, self._config.discord.moderator_role
        ):
            return []
        settings = await self._store.settings(guild_id)
        limits = [
            {
                "key": f"user:{guild_id}:{interaction.user.id}",
                "per_minute": settings.user_per_minute or moderation.user_per_minute,
                "burst": settings.user_burst or moderation.user_burst,
                "refusal": "You are making images faster than this server allows",
            }
        ]
        guild_rate = settings.guild_per_minute or moderation.guild_per_minute
        if guild_rate:
            limits.append(
                {
                    "key": f"guild:{guild_id}",
                    "per_minute": guild_rate,
                    "burst": settings.guild_burst or moderation.guild_burst,
                    "refusal": "This server has used its image budget for now",
                }
            )
        return limits

    async def warm_up(self) -> None:
        """Load the image classifier now, so the first job is not the one that waits for it."""
        if not self._config.moderation.image_check or self._classifier is None:
            return
        try:
            await asyncio.to_thread(self._classifier.classify, [Image.new("RGB", (64, 64))])
        except Exception:
            logger.exception("the image safety check failed to load; images will be withheld")

    async def screen_images(
        self, job: JobRecord, images: list[Image.Image], flagged: Sequence[bool] = ()
    ) -> Screened:
        """Classify a job's images and decide, per the channel, what may be shown."""
        moderation = self._config.moderation
        if not moderation.image_check or self._classifier is None:
            return Screened(images, (), spoiler=False)
        readings = await asyncio.to_thread(read_safely, self._classifier, images, flagged)
        nsfw_channel = bool(job.context.get("nsfw_channel"))
        showing = [
            decide_showing(r, nsfw_channel=nsfw_channel, nsfw_mode=moderation.nsfw_channels)
            for r in readings
        ]
        withheld = tuple(i for i, decision in enumerate(showing) if decision == "withhold")
        shown = [placeholder(img) if i in withheld else img for i, img in enumerate(images)]
        if withheld:
            guild = job.context.get("guild_id")
            guild_id = int(guild) if guild else None
            detail = f"job {job.id}: image(s) {', '.join(str(i + 1) for i in withheld)}"
            await self._store.record(guild_id, int(job.owner), "withheld", job.id, detail)
            if guild_id is not None:
                await self.modlog(
                    guild_id,
                    f"🙈 Withheld {len(withheld)} image(s) of job `{job.id}` by <@{job.owner}> "
                    f"(image safety check).",
                )
        return Screened(shown, withheld, spoiler="spoiler" in showing)

    async def record(
        self, interaction: discord.Interaction, action: str, subject: str = "", detail: str = ""
    ) -> None:
        """Add an entry to the audit log for what this interaction's user did."""
        await self._store.record(interaction.guild_id, interaction.user.id, action, subject, detail)

    async def modlog(self, guild_id: int, text: str) -> None:
        """Post to the guild's mod-log channel, if it has one (failures are only logged)."""
        settings = await self._store.settings(guild_id)
        if settings.modlog_channel_id is None:
            return
        channel = self._client.get_partial_messageable(
            settings.modlog_channel_id, guild_id=guild_id
        )
        try:
            await channel.send(text[:2000], allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as error:
            logger.warning("could not post to the mod-log channel of guild %s: %s", guild_id, error)
