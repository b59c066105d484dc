"""Sampler names users type (``--sampler "DPM++ 2M Karras"``) and the schedulers behind them.

A scheduler is built fresh for every call from the loaded model's own scheduler config, so it
inherits the model's noise schedule and prediction type; only the sampling method changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diffusers import SchedulerMixin


@dataclass(frozen=True)
class SamplerSpec:
    """How to build one named sampler from a model's scheduler config."""

    class_name: str
    options: dict[str, Any] = field(default_factory=dict)


SAMPLERS: dict[str, SamplerSpec] = {
    "Euler": SamplerSpec("EulerDiscreteScheduler"),
    "Euler a": SamplerSpec("EulerAncestralDiscreteScheduler"),
    "Heun": SamplerSpec("HeunDiscreteScheduler"),
    "DPM++ 2M": SamplerSpec("DPMSolverMultistepScheduler"),
    "DPM++ 2M Karras": SamplerSpec("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DPM++ SDE Karras": SamplerSpec(
        "DPMSolverMultistepScheduler",
        {"use_karras_sigmas": True, "algorithm_type": "sde-dpmsolver++"},
    ),
    "UniPC": SamplerSpec("UniPCMultistepScheduler"),
    "DDIM": SamplerSpec("DDIMScheduler"),
    "LCM": SamplerSpec("LCMScheduler"),
    # Flow-matching models (FLUX) sample along a straight path from noise to image.
    "Flow Euler": SamplerSpec("FlowMatchEulerDiscreteScheduler"),
}
SAMPLER_NAMES: tuple[str, ...] = tuple(SAMPLERS)
FLOW_SAMPLERS: tuple[str, ...] = ("Flow Euler",)
UNET_SAMPLERS: tuple[str, ...] = tuple(name for name in SAMPLERS if name not in FLOW_SAMPLERS)

# Ancestral and SDE samplers draw fresh noise every step, so their results depend on the
# per-image generators as well as on the starting latents.
STOCHASTIC_SAMPLERS = frozenset({"Euler a", "DPM++ SDE Karras", "LCM"})


def _squash(name: str) -> str:
    """Reduce a sampler name to letters, digits and '+' so spelling variants compare equal."""
    return re.sub(r"[^a-z0-9+]", "", name.lower())


_BY_SQUASHED = {_squash(name): name for name in SAMPLERS}
_BY_SQUASHED.update({"eulerancestral": "Euler a", "dpmpp2m": "DPM++ 2M"})
_BY_SQUASHED.update({"dpmpp2mkarras": "DPM++ 2M Karras", "dpmppsdekarras": "DPM++ SDE Karras"})
_BY_SQUASHED.update({"flowmatcheuler": "Flow Euler", "flowmatch": "Flow Euler"})


def resolve_sampler_name(name: str) -> str | None:
    """Return the canonical sampler name for what a user typed, or None if there is none."""
    return _BY_SQUASHED.get(_squash(name))


def build_scheduler(name: str, base_config: Any) -> SchedulerMixin:
    """Build a fresh scheduler of the named kind that keeps the model's own noise schedule."""
    import diffusers  # noqa: PLC0415 - keep `import pipeline.config` free of torch start-up

    canonical = resolve_sampler_name(name)
    if canonical is None:
        raise KeyError(name)
    spec = SAMPLERS[canonical]
    scheduler_class = getattr(diffusers, spec.class_name)
    scheduler: SchedulerMixin = scheduler_class.from_config(base_config, **spec.options)
    return scheduler
