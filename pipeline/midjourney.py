"""Midjourney's own parameters, mapped onto what a diffusion pipeline has.

- ``--quality``/``--q`` ``.25 .5 1 2`` multiplies the model's default steps (within the
  server's ``max_steps``): Midjourney's "GPU time" knob is, here, denoising steps.
- ``--stylize``/``--s`` ``0–1000`` (Midjourney's default 100) trades following the prompt for
  the model's own taste by scaling the guidance: 0 → 1.25× the default, 100 → the default,
  1000 → 0.4×. It is refused where guidance does nothing (FLUX schnell).
- ``--iw`` ``0–3`` (image-prompt weight, Midjourney's default 1) sets how much of an attached
  image survives: the img2img strength is ``1 - 0.3 × iw`` (0 → 1.0, the image ignored;
  1 → 0.7; 3 → 0.1, the image nearly kept).
- ``--stop`` ``10–100`` ends denoising at that share of the steps and decodes what is there
  (diffusers' interrupt: the remaining steps are skipped), for a softer, less finished image.
- ``--v``/``--version`` and ``--niji`` choose Midjourney's own models, which do not exist
  here: they are refused with a pointer to ``--model``.
"""

from __future__ import annotations

import math

from pipeline.errors import ParameterError

QUALITY_CHOICES = {".25": 0.25, "0.25": 0.25, ".5": 0.5, "0.5": 0.5, "1": 1.0, "2": 2.0}
STYLIZE_DEFAULT = 100
STYLIZE_MAX = 1000
IMAGE_WEIGHT_MAX = 3.0
MIN_STRENGTH = 0.05
VERSION_PARAMETERS = ("v", "niji")


def quality_steps(text: str, default_steps: int, max_steps: int) -> int:
    """Return the steps ``--quality`` asks for: the default times .25, .5, 1 or 2."""
    factor = QUALITY_CHOICES.get(text.strip())
    if factor is None:
        raise ParameterError(f"--quality takes .25, .5, 1 or 2 (got {text!r:.40}).")
    return max(1, min(max_steps, round(default_steps * factor)))


def stylize_guidance(text: str, default_guidance: float) -> float:
    """Return the guidance ``--stylize`` asks for, scaled from the model's default."""
    value = _number(text, "stylize", 0, STYLIZE_MAX)
    if value <= STYLIZE_DEFAULT:
        factor = 1.25 - 0.25 * value / STYLIZE_DEFAULT
    else:
        factor = 1.0 - 0.6 * (value - STYLIZE_DEFAULT) / (STYLIZE_MAX - STYLIZE_DEFAULT)
    return round(default_guidance * factor, 3)


def image_weight_strength(text: str) -> float:
    """Return the img2img strength of ``--iw``: more weight keeps more of the image."""
    weight = _number(text, "iw", 0, IMAGE_WEIGHT_MAX)
    return round(max(MIN_STRENGTH, 1.0 - 0.3 * weight), 3)


def refuse_version(name: str) -> None:
    """Refuse Midjourney's model switches, pointing at this server's own models."""
    raise ParameterError(
        f"--{name} picks one of Midjourney's models; here, choose one of this server's models "
        "with --model NAME (/models lists them)."
    )


def _number(text: str, name: str, low: float, high: float) -> float:
    """Parse a finite number within [low, high], or explain the range."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise ParameterError(
            f"--{name} must be a number from {low:g} to {high:g} (got {text!r:.40})."
        )
    return value
