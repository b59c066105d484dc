"""Generation requests, and the parser of Midjourney-style parameters written inside a prompt.

``a red fox in the snow --ar 16:9 --no people --seed 7`` becomes a :class:`GenerationRequest`
with the prompt text, the negative prompt, a size at the model's native pixel count, and every
other parameter resolved against the configured defaults and limits. Anything malformed or out
of range raises :class:`ParameterError` naming the parameter and what it accepts, before any
work is queued.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipeline.canvas import Edit
from pipeline.config import CONTROL_MODES
from pipeline.errors import ParameterError, PromptError
from pipeline.lora_syntax import LoraUse
from pipeline.midjourney import (
    VERSION_PARAMETERS,
    image_weight_strength,
    quality_steps,
    refuse_version,
    stylize_guidance,
)
from pipeline.parameters import decimal, split_parameters, whole_number
from pipeline.prompt_syntax import parse_weighted_prompt
from pipeline.samplers import resolve_sampler_name
from pipeline.shape_buckets import nearest_ratio

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipeline.config import GenerationSettings
    from pipeline.models import ModelProfile

Operation = Literal["txt2img", "img2img", "variation", "upscale", "edit"]

GRID_IMAGES = 4
SEED_LIMIT = 2**32
SIZE_MULTIPLE = 8
MIN_SIDE = 32
_RATIO = re.compile(r"^(\d{1,6})\s*:\s*(\d{1,6})$", re.ASCII)

# Two ways to say one thing: giving both is refused rather than one silently winning.
_EXCLUSIVE = (("steps", "quality"), ("cfg", "stylize"), ("strength", "iw"))


@dataclass(frozen=True)
class GenerationRequest:
    """Everything needed to reproduce one job's images exactly."""

    prompt: str
    negative_prompt: str
    width: int
    height: int
    steps: int
    guidance: float
    seed: int
    sampler: str
    num_images: int = GRID_IMAGES
    init_image: Path | None = None
    strength: float | None = None
    tile: bool = False
    fast: bool = False  # --fast: the step cache (DeepCache, FLUX's first-block cache)
    operation: Operation = "txt2img"
    # The configured model's name; "" (jobs stored before models had names) is the default.
    model: str = ""
    stop: int = 100  # finish at this share of the steps, in percent (Midjourney's --stop)
    # A style preset's name, and the texts it made, which are drawn but never shown.
    style: str = ""
    styled_prompt: str = ""
    styled_negative: str = ""
    loras: tuple[LoraUse, ...] = ()  # applied in this order, each at its weight
    chaos: int = 0  # Midjourney's --chaos 0-100: how far the four images may stray apart
    # Zoom Out, Pan, Make Square, Vary (Region): where init_image goes and what is repainted.
    edit: Edit | None = None
    # ControlNet: the member's control image, how it is read, and its weight (--cw).
    control_image: Path | None = None
    control_mode: str = "canny"
    control_weight: float = 1.0

    @property
    def drawn_prompt(self) -> str:
        """Return the text the model reads: the style's expansion, else the prompt itself."""
        return self.styled_prompt or self.prompt

    @property
    def drawn_negative(self) -> str:
        """Return the negative prompt the model reads, the style's added in."""
        return self.styled_negative or self.negative_prompt

    @property
    def seeds(self) -> list[int]:
        """Return each image's seed: image *i* uses ``seed + i``, so any one can be redone alone."""
        return [(self.seed + index) % SEED_LIMIT for index in range(self.num_images)]

    @property
    def pixels(self) -> int:
        """Return the pixel count of one output image."""
        return self.width * self.height

    def with_seed(self, seed: int) -> GenerationRequest:
        """Return the same request with another seed (a reroll)."""
        return replace(self, seed=seed % SEED_LIMIT)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict, for storing jobs and showing parameters."""
        data = asdict(self)
        data["init_image"] = str(self.init_image) if self.init_image else None
        data["edit"] = self.edit.to_dict() if self.edit else None
        data["control_image"] = str(self.control_image) if self.control_image else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        """Rebuild a request stored with :meth:`to_dict`."""
        values = dict(data)
        values["init_image"] = Path(values["init_image"]) if values.get("init_image") else None
        values["edit"] = Edit.from_dict(values["edit"]) if values.get("edit") else None
        control = values.get("control_image")
        values["control_image"] = Path(control) if control else None
        values["loras"] = tuple(
            LoraUse(str(u["name"]), float(u["weight"])) for u in values.get("loras", ())
        )
        return cls(**values)


def random_seed() -> int:
    """Return a fresh seed in the range users can type back with ``--seed``."""
    return random.SystemRandom().randrange(SEED_LIMIT)


def parse_request(
    text: str,
    *,
    settings: GenerationSettings,
    profile: ModelProfile,
    negative_prompt: str = "",
    init_image: Path | None = None,
    init_size: tuple[int, int] | None = None,
    control_image: Path | None = None,
    seed_source: Callable[[], int] = random_seed,
) -> GenerationRequest:
    """Build a request for ``profile``'s model from a prompt, or raise a user-facing error.

    ``--model`` is read by the caller, who chose ``profile`` by it.
    """
    parsed = split_parameters(text)
    values = parsed.values
    prompt = check_prompt(parsed.prompt, settings, "prompt")
    negative = _merge_negative(negative_prompt, values.get("no"))
    check_prompt(negative, settings, "negative prompt", allow_empty=True)

    _check_combinations(values, has_image=init_image is not None)
    if values.get("tile"):
        raise ParameterError(f"--tile takes no value (got {values['tile']!r}).")
    for guidance_parameter in ("cfg", "stylize"):
        if guidance_parameter in values and not profile.accepts_guidance:
            raise ParameterError(
                f"--{guidance_parameter} has no effect on {profile.name}: its guidance is "
                "distilled into the model."
            )
    defaults = profile.defaults
    width, height = _size(values.get("ar"), settings, profile, init_size)
    request = GenerationRequest(
        prompt=prompt,
        negative_prompt=negative,
        width=width,
        height=height,
        steps=_steps(values, defaults.steps, settings.max_steps),
        guidance=_guidance(values, defaults.guidance),
        seed=(
            whole_number(values["seed"], "seed", 0, SEED_LIMIT - 1)
            if "seed" in values
            else seed_source()
        ),
        sampler=_sampler(values["sampler"], profile) if "sampler" in values else defaults.sampler,
        init_image=init_image,
        strength=_strength(values, settings) if init_image is not None else None,
        tile="tile" in values,
        fast=_fast(values, settings.fast),
        operation="img2img" if init_image is not None else "txt2img",
        model=profile.name,
        stop=whole_number(values["stop"], "stop", 10, 100) if "stop" in values else 100,
        chaos=whole_number(values["chaos"], "chaos", 0, 100) if "chaos" in values else 0,
    )
    if control_image is not None or "control" in values or "cw" in values:
        request = _controlled(request, values, control_image, profile)
    profile.family.refuse_unsupported(request, profile.traits)
    return request


def _fast(values: dict[str, str], default: bool) -> bool:
    """Read ``--fast`` or ``--fast on`` / ``off``; without it, the server's default."""
    if "fast" not in values:
        return default
    value = values["fast"].casefold()
    if value not in ("", "on", "off"):
        raise ParameterError(f"--fast takes no value, or on or off (got {values['fast']!r:.20}).")
    return value != "off"


def _controlled(
    request: GenerationRequest,
    values: dict[str, str],
    control_image: Path | None,
    profile: ModelProfile,
) -> GenerationRequest:
    """Add ControlNet guidance: the control image, ``--control MODE`` and ``--cw WEIGHT``."""
    if control_image is None:
        raise ParameterError(
            "--control and --cw guide a drawing by a control image: attach one (the control "
            "option, or --control IMAGE on the command line)."
        )
    if request.init_image is not None:
        raise ParameterError("A control image and an image prompt cannot be combined: use one.")
    mode = (values.get("control") or "canny").casefold()
    if mode not in CONTROL_MODES:
        raise ParameterError(
            f"--control takes one of {', '.join(CONTROL_MODES)} (got {mode!r:.20})."
        )
    if mode not in profile.controlnets:
        offered = ", ".join(profile.controlnets) or "none"
        raise ParameterError(
            f"{profile.name} has no ControlNet for {mode}; its modes: {offered}. "
            "(Owners add them under the model's controlnets: in config.yaml.)"
        )
    weight = decimal(values["cw"], "cw", 0.0, 2.0) if "cw" in values else 1.0
    return replace(request, control_image=control_image, control_mode=mode, control_weight=weight)


def size_for_aspect(
    ratio: float, native_pixels: int, multiple: int = SIZE_MULTIPLE
) -> tuple[int, int]:
    """Return (width, height) with ``width / height ≈ ratio`` at about ``native_pixels``.

    Sides are multiples of ``multiple``: 8 for UNet models, 16 for FLUX's 2×2 patches.
    """
    height = math.sqrt(native_pixels / ratio)
    width = height * ratio
    # Grow both sides together when one would be too small, so the ratio survives.
    grow = max(1.0, MIN_SIDE / min(width, height))
    return _round_side(width * grow, multiple), _round_side(height * grow, multiple)


def _round_side(side: float, multiple: int) -> int:
    """Round a side to the nearest multiple the model can work with."""
    return max(MIN_SIDE, multiple * round(side / multiple))


def _size(
    ratio_text: str | None,
    settings: GenerationSettings,
    profile: ModelProfile,
    init_size: tuple[int, int] | None,
) -> tuple[int, int]:
    """Resolve the output size: ``--ar``, else the image prompt's shape, else native."""
    native_size = profile.native_size
    native_pixels = native_size[0] * native_size[1]
    multiple = profile.family.size_multiple
    if ratio_text is not None:
        ratio = parse_ratio(ratio_text, settings.max_aspect)
    elif init_size is not None:
        ratio = init_size[0] / init_size[1]
    else:
        return native_size
    if profile.aspect_menu:  # a compiled model draws only its menu's shapes
        ratio = nearest_ratio(ratio, profile.aspect_menu)
    return size_for_aspect(ratio, native_pixels, multiple)


def parse_ratio(text: str, max_aspect: float) -> float:
    """Read ``--ar W:H`` as width over height, refusing ratios past ``max_aspect``."""
    match = _RATIO.match(text.strip())
    if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise ParameterError(
            f"--ar takes a width:height ratio of whole numbers, like --ar 16:9 (got {text!r:.40})."
        )
    ratio = int(match.group(1)) / int(match.group(2))
    if max(ratio, 1 / ratio) > max_aspect:
        limit = f"{max_aspect:g}"
        raise ParameterError(
            f"--ar {text} is too extreme: use a ratio between 1:{limit} and {limit}:1."
        )
    return ratio


def check_prompt(
    text: str, settings: GenerationSettings, what: str, *, allow_empty: bool = False
) -> str:
    """Refuse empty or overlong prompts and weighting no model can use, with a clear reason."""
    text = text.strip()
    if not text and not allow_empty:
        raise PromptError("The prompt is empty: describe what to draw before any --parameters.")
    if len(text) > settings.max_prompt_chars:
        raise PromptError(
            f"The {what} is {len(text)} characters long; the limit is {settings.max_prompt_chars}."
        )
    parse_weighted_prompt(text)
    return text


def _merge_negative(negative_prompt: str, no_value: str | None) -> str:
    """Append ``--no a, b`` terms to the negative prompt."""
    if no_value is None:
        return negative_prompt.strip()
    terms = [term.strip() for term in no_value.split(",") if term.strip()]
    if not terms:
        raise ParameterError("--no needs at least one thing to avoid, like --no people, text.")
    return ", ".join([t for t in [negative_prompt.strip()] if t] + terms)


def _strength(values: dict[str, str], settings: GenerationSettings) -> float:
    """Return the image prompt's strength: ``--strength``, ``--iw``, else the default."""
    if "iw" in values:
        return image_weight_strength(values["iw"])
    text = values.get("strength")
    return settings.strength if text is None else decimal(text, "strength", 0.05, 1.0)


def _steps(values: dict[str, str], default: int, max_steps: int) -> int:
    """Return the steps: ``--steps``, ``--quality`` times the default, else the default."""
    if "quality" in values:
        return quality_steps(values["quality"], default, max_steps)
    if "steps" in values:
        return whole_number(values["steps"], "steps", 1, max_steps)
    return default


def _guidance(values: dict[str, str], default: float) -> float:
    """Return the guidance: ``--cfg``, ``--stylize`` scaling the default, else the default."""
    if "stylize" in values:
        return stylize_guidance(values["stylize"], default)
    if "cfg" in values:
        return decimal(values["cfg"], "cfg", 0.0, 30.0)
    return default


def _check_combinations(values: dict[str, str], *, has_image: bool) -> None:
    """Refuse Midjourney's model switches, two ways of saying one thing, and orphans."""
    for name in VERSION_PARAMETERS:
        if name in values:
            refuse_version(name)
    for first, second in _EXCLUSIVE:
        if first in values and second in values:
            raise ParameterError(f"--{first} and --{second} set the same thing: give one.")
    for name in ("strength", "iw"):
        if name in values and not has_image:
            raise ParameterError(
                f"--{name} only applies to image prompts: attach an image to use it."
            )


def _sampler(text: str, profile: ModelProfile) -> str:
    """Resolve a sampler name or list the ones this model can use."""
    name = resolve_sampler_name(text)
    if name is None:
        raise ParameterError(
            f"--sampler {text!r:.40} is not a sampler here. "
            f"Choose one of: {', '.join(profile.family.samplers)}."
        )
    return name
