"""What a server, a channel and a member chose for the prompts that do not say otherwise.

The bot layers them server < channel < member and hands the merged :class:`JobDefaults` to
:class:`~pipeline.request_builder.RequestBuilder`, where the prompt has the last word:

- ``model``, ``style``, ``aspect`` and ``avoid`` (a member's ``--no`` list) apply only where
  the prompt (or the command's options) leave them open. A default that names a model or a
  style the server no longer has is passed over, never an error: it was not the member's
  choice in this prompt.
- ``enforced_negative`` is added to every job's negative prompt, buttons' jobs included, and
  cannot be removed; families without negative prompts (FLUX) cannot honour it.
- ``max_steps`` and ``max_pixels`` tighten the config's limits (never loosen them); a model's
  default steps yield to the cap, and a native size above the pixel cap is scaled down.
- ``styles`` are the server's own presets, beside the config's (whose names win).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pipeline.parameters import split_parameters
from pipeline.request import size_for_aspect

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pipeline.config import StyleSettings
    from pipeline.models import ModelProfile
    from pipeline.request import GenerationRequest


@dataclass(frozen=True)
class JobDefaults:
    """The merged defaults and caps one job is parsed under."""

    model: str | None = None
    style: str | None = None
    aspect: str | None = None
    avoid: str = ""
    enforced_negative: str = ""
    max_steps: int | None = None
    max_pixels: int | None = None
    styles: Mapping[str, StyleSettings] = field(default_factory=dict)


NO_DEFAULTS = JobDefaults()


def join_terms(*texts: str) -> str:
    """Join negative-prompt texts with ", ", leaving out empty terms and repeated ones."""
    terms: list[str] = []
    for text in texts:
        for term in text.split(","):
            cleaned = term.strip()
            if cleaned and cleaned not in terms:
                terms.append(cleaned)
    return ", ".join(terms)


def with_default_style(text: str, style: str | None, styles: Mapping[str, StyleSettings]) -> str:
    """Add ``--style`` for a default style the server still has, unless the prompt gives one."""
    if not style or "style" in split_parameters(text).values:
        return text
    if style.casefold() != "raw" and style.casefold() not in {n.casefold() for n in styles}:
        return text
    return f"{text} --style {style}"


def with_default_parameters(
    text: str, defaults: JobDefaults, profile: ModelProfile, *, has_image: bool
) -> str:
    """Add the default ``--ar`` and ``--no`` where the prompt (and its image) leave them open."""
    values = split_parameters(text).values
    if defaults.aspect and "ar" not in values and not has_image:
        text = f"{text} --ar {defaults.aspect}"
    if defaults.avoid and "no" not in values and profile.family.negative_prompts:
        text = f"{text} --no {defaults.avoid}"
    return text


def capped_profile(profile: ModelProfile, max_steps: int) -> ModelProfile:
    """Return the profile with its default steps within a channel's cap."""
    if profile.defaults.steps <= max_steps:
        return profile
    return replace(profile, defaults=replace(profile.defaults, steps=max_steps))


def within_pixels(
    request: GenerationRequest, max_pixels: int, profile: ModelProfile
) -> GenerationRequest:
    """Scale a request's size down, keeping its shape, when it is above a channel's cap."""
    if request.pixels <= max_pixels:
        return request
    ratio, target = request.width / request.height, max_pixels
    width, height = size_for_aspect(ratio, target, profile.family.size_multiple)
    for _ in range(40):  # rounding to the size multiple may land just above the cap
        if width * height <= max_pixels:
            break
        target = int(target * 0.97)
        width, height = size_for_aspect(ratio, target, profile.family.size_multiple)
    return replace(request, width=width, height=height)


def enforced(
    request: GenerationRequest, defaults: JobDefaults, profile: ModelProfile
) -> GenerationRequest:
    """Add the server's and channel's enforced negative prompt, which members cannot remove."""
    if not defaults.enforced_negative or not profile.family.negative_prompts:
        return request
    negative = join_terms(request.negative_prompt, defaults.enforced_negative)
    styled = join_terms(request.styled_negative, defaults.enforced_negative)
    return replace(
        request,
        negative_prompt=negative,
        styled_negative=styled if request.styled_negative else "",
    )
