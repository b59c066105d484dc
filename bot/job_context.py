"""What the bot keeps with each job to deliver it later: a typed record and its stored form.

The scheduler treats a job's context as an opaque JSON object (``JobRecord.context``); this
module is the one place that writes and reads it, so every other module reads typed fields.
The stored keys are those of the first release, so jobs queued before an upgrade still load.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import discord

from bot.moderation.image_safety import NSFW_CHANNEL_MODES
from bot.moderation.ratelimit import RateCharge, RateLimit

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from bot.moderation.image_safety import NsfwChannelMode
    from pipeline.engine import VariationStrength
    from pipeline.jobs import JobRecord
    from pipeline.scheduler import QueueEntry

TOKEN_LIFETIME = 15 * 60
TOKEN_SAFETY_MARGIN = 60
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024


class JobKind(StrEnum):
    """What made the job: a command or one of the buttons under a result."""

    IMAGINE = "imagine"
    REROLL = "reroll"
    VARIATION = "variation"
    UPSCALE = "upscale"
    EDIT = "edit"  # Zoom Out, Pan, Make Square, Vary (Region)


@dataclass(frozen=True)
class JobContext:
    """Where a job came from and where its outcome goes, as recorded when it was accepted."""

    kind: JobKind
    channel_id: int
    application_id: int
    guild_id: int | None = None
    token: str | None = None
    token_issued_at: float | None = None
    message_id: int | None = None
    reply_to: int | None = None
    upload_limit: int = DEFAULT_UPLOAD_LIMIT
    nsfw_channel: bool = False
    unsafe_images: NsfwChannelMode | None = None  # the channel's policy; None: the config's
    rate_charges: tuple[RateCharge, ...] = ()
    source_job: str | None = None
    source_index: int | None = None
    strength: VariationStrength | None = None

    @classmethod
    def of(cls, job: JobRecord) -> JobContext:
        """Read the context stored with a job."""
        return cls.from_stored(job.context)

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> JobContext:
        """Rebuild the context from its stored form."""
        strength = stored.get("strength")
        return cls(
            kind=JobKind(stored.get("kind", JobKind.IMAGINE)),
            channel_id=int(stored["channel_id"]),
            application_id=int(stored["application_id"]),
            guild_id=_optional_int(stored.get("guild_id")),
            token=stored.get("token"),
            token_issued_at=stored.get("token_issued_at"),
            message_id=_optional_int(stored.get("message_id")),
            reply_to=_optional_int(stored.get("reply_to")),
            upload_limit=int(stored.get("upload_limit", DEFAULT_UPLOAD_LIMIT)),
            nsfw_channel=bool(stored.get("nsfw_channel", False)),
            unsafe_images=_nsfw_mode(stored.get("unsafe_images")),
            rate_charges=stored_rate_charges(stored),
            source_job=stored.get("source_job"),
            source_index=_optional_int(stored.get("source_index")),
            strength="subtle" if strength == "subtle" else "strong" if strength else None,
        )

    def to_stored(self) -> dict[str, Any]:
        """Return the JSON-ready form kept in the database (ids as strings, as Discord's)."""
        stored: dict[str, Any] = {
            "kind": str(self.kind),
            "guild_id": _optional_str(self.guild_id),
            "channel_id": str(self.channel_id),
            "application_id": str(self.application_id),
            "token": self.token,
            "token_issued_at": self.token_issued_at,
            "message_id": _optional_str(self.message_id),
            "upload_limit": self.upload_limit,
            "nsfw_channel": self.nsfw_channel,
            "rate_limits": [_charge_to_stored(charge) for charge in self.rate_charges],
        }
        if self.source_job is not None:
            stored["source_job"] = self.source_job
        if self.source_job is not None or self.reply_to is not None:
            stored["reply_to"] = _optional_str(self.reply_to)
        if self.source_index is not None:
            stored["source_index"] = self.source_index
        if self.strength is not None:
            stored["strength"] = self.strength
        if self.unsafe_images is not None:
            stored["unsafe_images"] = self.unsafe_images
        return stored

    def token_usable(self, now: float) -> bool:
        """Tell whether the interaction token has more than the safety margin of life left."""
        if self.token is None or self.token_issued_at is None or self.message_id is None:
            return False
        return now - self.token_issued_at < TOKEN_LIFETIME - TOKEN_SAFETY_MARGIN


def entries_in_guild(entries: Iterable[QueueEntry], guild_id: int | None) -> list[QueueEntry]:
    """Keep the queue entries of one server's jobs: servers never see each other's."""
    return [e for e in entries if _optional_int(e.context.get("guild_id")) == guild_id]


def stored_rate_charges(stored: Mapping[str, Any]) -> tuple[RateCharge, ...]:
    """Read just the rate-limit charges of a stored context (jobs from elsewhere have none)."""
    return tuple(_charge_from_stored(charge) for charge in stored.get("rate_limits", ()))


def _charge_to_stored(charge: RateCharge) -> dict[str, Any]:
    """Return a rate-limit charge as stored."""
    return {
        "key": charge.key,
        "per_minute": charge.limit.per_minute,
        "burst": charge.limit.burst,
        "refusal": charge.refusal,
    }


def _charge_from_stored(stored: Mapping[str, Any]) -> RateCharge:
    """Rebuild a rate-limit charge from its stored form."""
    limit = RateLimit(per_minute=float(stored["per_minute"]), burst=int(stored["burst"]))
    return RateCharge(key=str(stored["key"]), limit=limit, refusal=str(stored["refusal"]))


def _nsfw_mode(value: object) -> NsfwChannelMode | None:
    """Read a stored image-safety policy; anything unknown falls back to the config's."""
    return next((mode for mode in NSFW_CHANNEL_MODES if mode == value), None)


def _optional_int(value: object) -> int | None:
    """Read an optional id or number stored as a string or a number."""
    return None if value is None else int(str(value))


def _optional_str(value: int | None) -> str | None:
    """Store an optional id as a string (Discord's snowflakes exceed JSON's safe integers)."""
    return None if value is None else str(value)


def context_of(
    interaction: discord.Interaction,
    kind: JobKind,
    message_id: int,
    *,
    issued_at: float,
    source: JobRecord | None = None,
) -> JobContext:
    """Describe where a new job came from and where it is delivered (its message, its token).

    A button's job replies to the message the button was on.
    """
    channel = interaction.channel
    pressed = interaction.message if source is not None else None
    return JobContext(
        kind=kind,
        guild_id=interaction.guild_id,
        channel_id=int(interaction.channel_id or 0),
        application_id=interaction.application_id,
        token=interaction.token,
        token_issued_at=issued_at,
        message_id=message_id,
        upload_limit=interaction.filesize_limit,
        nsfw_channel=bool(isinstance(channel, discord.TextChannel) and channel.is_nsfw()),
        source_job=source.id if source is not None else None,
        reply_to=pressed.id if pressed is not None else None,
    )
