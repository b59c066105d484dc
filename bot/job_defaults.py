"""What the server, a channel and a member chose, merged into what one job runs under.

The layers go server < channel < member < prompt: the more particular choice wins for a
default (model, style), and the prompt (merged later, in
:class:`~pipeline.request_builder.RequestBuilder`) beats them all. Rules are not defaults:

- caps (steps, pixels) take the tighter of the server's and the channel's, so a channel can
  only narrow what its server allows;
- enforced negative prompts add up (the server's and the channel's, both kept);
- whether image prompts are allowed, and what an age-restricted channel does with unsafe
  images, are the channel's choice where it made one, else the server's.

Everything here is pure: the records come from :mod:`bot.store.settings` and the merge does
no I/O, so it can run before an interaction is acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from pipeline.config import StyleSettings
from pipeline.defaults import JobDefaults, join_terms
from pipeline.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from bot.moderation.image_safety import NsfwChannelMode

T = TypeVar("T")


class ImagePromptsOffError(UserError):
    """Moderators turned image prompts off where the member tried one."""


@dataclass(frozen=True)
class PlaceDefaults:
    """What moderators chose for a whole server (``channel_id`` None) or one of its channels.

    None (or "") means "not chosen here": the wider layer, or the config, decides.
    """

    guild_id: int
    channel_id: int | None = None
    model: str | None = None
    style: str | None = None
    max_steps: int | None = None
    max_pixels: int | None = None
    enforced_negative: str = ""
    image_prompts: bool | None = None
    unsafe_images: NsfwChannelMode | None = None

    def is_empty(self) -> bool:
        """Tell whether nothing is chosen (such a row need not be kept)."""
        return self == PlaceDefaults(self.guild_id, self.channel_id)


@dataclass(frozen=True)
class MemberPreferences:
    """A member's own defaults in one server, like Midjourney's ``/prefer``."""

    guild_id: int
    user_id: int
    aspect: str | None = None
    style: str | None = None
    model: str | None = None
    avoid: str = ""  # a --no list

    def is_empty(self) -> bool:
        """Tell whether the member chose nothing."""
        return self == MemberPreferences(self.guild_id, self.user_id)


@dataclass(frozen=True)
class ServerStyle:
    """A style preset a server's moderators added (beside the config's ``styles:``)."""

    guild_id: int
    name: str
    prompt: str
    negative: str = ""
    model: str | None = None
    added_by: int = 0
    added_at: float = 0.0

    def preset(self) -> StyleSettings:
        """Return the preset as the request builder applies it (validated like the config's)."""
        return StyleSettings(prompt=self.prompt, negative=self.negative, model=self.model)


@dataclass(frozen=True)
class JobSettings:
    """Everything the layers decide for one job: its defaults and caps, and the channel's rules."""

    defaults: JobDefaults = field(default_factory=JobDefaults)
    image_prompts: bool = True
    unsafe_images: NsfwChannelMode | None = None  # None: the config's moderation.nsfw_channels

    def refuse_image_prompt(self) -> None:
        """Raise ImagePromptsOffError where moderators turned image prompts off."""
        if not self.image_prompts:
            raise ImagePromptsOffError(
                "Image prompts are turned off in this channel: run /imagine without an image "
                "(/settings show says what applies here)."
            )


def settle(
    server: PlaceDefaults | None,
    channel: PlaceDefaults | None,
    member: MemberPreferences | None,
    styles: Mapping[str, StyleSettings],
) -> JobSettings:
    """Merge the layers (each may be missing) into what one job runs under."""
    places = [p for p in (server, channel) if p is not None]
    particular = [p for p in (channel, server) if p is not None]  # the narrower first
    defaults = JobDefaults(
        model=(member.model if member else None) or _first(p.model for p in particular),
        style=(member.style if member else None) or _first(p.style for p in particular),
        aspect=member.aspect if member else None,
        avoid=member.avoid if member else "",
        enforced_negative=join_terms(*(p.enforced_negative for p in places)),
        max_steps=_tightest(p.max_steps for p in places),
        max_pixels=_tightest(p.max_pixels for p in places),
        styles=dict(styles),
    )
    image_prompts = _first(p.image_prompts for p in particular)
    return JobSettings(
        defaults=defaults,
        image_prompts=True if image_prompts is None else image_prompts,
        unsafe_images=_first(p.unsafe_images for p in particular),
    )


def _first(values: Iterable[T | None]) -> T | None:
    """Return the first value that was chosen (not None, not empty)."""
    return next((value for value in values if value is not None and value != ""), None)


def _tightest(values: Iterable[int | None]) -> int | None:
    """Return the smallest cap set, or None where none is."""
    caps = [value for value in values if value is not None]
    return min(caps) if caps else None
