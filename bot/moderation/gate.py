"""The moderation every job passes: bans, prompt filters, rate limits, image safety, audit.

Everything here runs after an interaction is acknowledged. Refusals are ``UserError``s with
a short reason for the user; moderators get the full story in the audit log and, if the
guild set one, the mod-log channel. The gate knows people as :class:`~bot.permissions.Actor`
records and posts through a :class:`ModLogPoster`, so it never touches Discord itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from PIL import Image

from bot.job_context import JobContext
from bot.moderation.defaults import DEFAULT_FILTERS
from bot.moderation.filters import check
from bot.moderation.image_safety import decide_showing, placeholder, read_safely
from bot.moderation.ratelimit import RateCharge, RateLimit
from pipeline.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bot.config import ModerationSettings
    from bot.moderation.filters import Filter
    from bot.moderation.image_safety import SafetyClassifier
    from bot.permissions import Actor
    from bot.store.moderation import ModerationStore
    from pipeline.jobs import JobRecord

logger = logging.getLogger(__name__)


class BannedError(UserError):
    """The user is banned from using the bot in this guild."""


class PromptBlockedError(UserError):
    """A filter blocked the prompt."""


class ModLogPoster(Protocol):
    """Post a line to a guild's mod-log channel; failures are the poster's to log."""

    async def __call__(self, guild_id: int, channel_id: int, text: str) -> None:
        """Send ``text`` to the channel."""


@dataclass(frozen=True)
class Screened:
    """Images ready to post: withheld ones replaced by placeholders, and how to show them."""

    images: list[Image.Image]
    withheld: tuple[int, ...]
    spoiler: bool


@dataclass(frozen=True)
class LimitsInForce:
    """A guild's limits: its own choices where it made them, else the config's defaults."""

    member: RateLimit
    guild: RateLimit | None  # None: the server has no shared budget
    exempt_moderators: bool


class ModerationGate:
    """Apply a guild's moderation to the people, prompts and images passing through."""

    def __init__(
        self,
        defaults: ModerationSettings,
        store: ModerationStore,
        post_to_modlog: ModLogPoster,
        classifier: SafetyClassifier | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._defaults = defaults
        self._store = store
        self._post = post_to_modlog
        self._classifier = classifier
        self._clock = clock

    async def refuse_if_banned(self, actor: Actor) -> None:
        """Raise BannedError, with until when and why, for a banned user."""
        if actor.guild_id is None:
            return
        ban = await self._store.active_ban(actor.guild_id, actor.user_id, self._clock())
        if ban is None:
            return
        until = (
            "until a moderator lifts it" if ban.until is None else f"until <t:{int(ban.until)}:f>"
        )
        reason = f" Reason: {ban.reason}" if ban.reason else ""
        raise BannedError(f"You are banned from using Easel on this server {until}.{reason}")

    async def screen_prompt(self, actor: Actor, texts: Sequence[str]) -> None:
        """Block (raise) or flag a prompt by the guild's filters, recording either."""
        guild_id = actor.guild_id
        if guild_id is None:
            return
        verdict = check(texts, await self.filters(guild_id))
        if not verdict.blocked and not verdict.flagged:
            return
        matched = verdict.blocking or verdict.flagging
        names = ", ".join(f"{f.describe()} (`{f.pattern}`)" for f in matched)
        prompt = " | ".join(t for t in texts if t)
        action = "block" if verdict.blocked else "flag"
        await self._store.record(guild_id, actor.user_id, action, names, prompt)
        what = "⛔ Blocked" if verdict.blocked else "🚩 Flagged"
        await self.modlog(
            guild_id, f"{what} a prompt by <@{actor.user_id}> ({names}):\n>>> {prompt[:1500]}"
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

    async def limits(self, guild_id: int) -> LimitsInForce:
        """Return the limits in force in a guild."""
        settings = await self._store.settings(guild_id)
        defaults = self._defaults
        # None: the guild never chose; 0: a moderator removed the server's budget.
        guild_rate = (
            defaults.guild_per_minute
            if settings.guild_per_minute is None
            else settings.guild_per_minute
        )
        return LimitsInForce(
            member=RateLimit(
                per_minute=settings.user_per_minute or defaults.user_per_minute,
                burst=settings.user_burst or defaults.user_burst,
            ),
            guild=RateLimit(guild_rate, settings.guild_burst or defaults.guild_burst)
            if guild_rate
            else None,
            exempt_moderators=defaults.exempt_moderators,
        )

    async def rate_charges(self, actor: Actor) -> tuple[RateCharge, ...]:
        """Return the limits to charge for a new job (none for exempt moderators)."""
        guild_id = actor.guild_id
        if guild_id is None or (self._defaults.exempt_moderators and actor.moderator):
            return ()
        limits = await self.limits(guild_id)
        member = RateCharge(
            f"user:{guild_id}:{actor.user_id}",
            limits.member,
            "You are making images faster than this server allows",
        )
        if limits.guild is None:
            return (member,)
        guild = RateCharge(
            f"guild:{guild_id}", limits.guild, "This server has used its image budget for now"
        )
        return (member, guild)

    async def warm_up(self) -> None:
        """Load the image classifier now, so the first job is not the one that waits for it."""
        if not self._defaults.image_check or self._classifier is None:
            return
        try:
            await asyncio.to_thread(self._classifier.classify, [Image.new("RGB", (64, 64))])
        except Exception:
            logger.exception("the image safety check failed to load; images will be withheld")

    async def screen_images(
        self, job: JobRecord, images: list[Image.Image], flagged: Sequence[bool] = ()
    ) -> Screened:
        """Classify a job's images and decide, per the channel, what may be shown."""
        defaults = self._defaults
        if not defaults.image_check or self._classifier is None:
            return Screened(images, (), spoiler=False)
        readings = await asyncio.to_thread(read_safely, self._classifier, images, flagged)
        context = JobContext.of(job)
        # The channel's (or server's) choice, recorded with the job, else the config's.
        mode = context.unsafe_images or defaults.nsfw_channels
        showing = [
            decide_showing(r, nsfw_channel=context.nsfw_channel, nsfw_mode=mode) for r in readings
        ]
        withheld = tuple(i for i, decision in enumerate(showing) if decision == "withhold")
        shown = [placeholder(img) if i in withheld else img for i, img in enumerate(images)]
        if withheld:
            await self._record_withheld(job, context.guild_id, withheld)
        return Screened(shown, withheld, spoiler="spoiler" in showing)

    async def record(self, actor: Actor, action: str, subject: str = "", detail: str = "") -> None:
        """Add an entry to the audit log for what this actor did."""
        await self._store.record(actor.guild_id, actor.user_id, action, subject, detail)

    async def modlog(self, guild_id: int, text: str) -> None:
        """Post to the guild's mod-log channel, if it has one."""
        settings = await self._store.settings(guild_id)
        if settings.modlog_channel_id is not None:
            await self._post(guild_id, settings.modlog_channel_id, text[:2000])

    async def _record_withheld(
        self, job: JobRecord, guild_id: int | None, withheld: tuple[int, ...]
    ) -> None:
        """Audit withheld images and tell the mod-log."""
        detail = f"job {job.id}: image(s) {', '.join(str(i + 1) for i in withheld)}"
        await self._store.record(guild_id, int(job.owner), "withheld", job.id, detail)
        if guild_id is not None:
            await self.modlog(
                guild_id,
                f"🙈 Withheld {len(withheld)} image(s) of job `{job.id}` by <@{job.owner}> "
                f"(image safety check).",
            )
