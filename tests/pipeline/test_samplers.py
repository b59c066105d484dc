"""Samplers: every advertised name builds a scheduler that can draw."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from pipeline.samplers import SAMPLER_NAMES, build_scheduler, resolve_sampler_name

if TYPE_CHECKING:
    from pipeline.engine import Engine


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_every_sampler_draws(tiny_engine: Engine, name: str) -> None:
    """Run two steps with each sampler."""
    request = replace(
        tiny_engine.parse("a red circle --seed 1 --steps 2"), sampler=name, num_images=1
    )
    assert len(tiny_engine.generate(request).images) == 1


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("euler a", "Euler a"),
        ("Euler_A", "Euler a"),
        ("euler-ancestral", "Euler a"),
        ("DPM++ 2M Karras", "DPM++ 2M Karras"),
        ("dpmpp_2m", "DPM++ 2M"),
        ("ddim", "DDIM"),
        ("LCM", "LCM"),
        ("euler", "Euler"),
        ("unknown", None),
    ],
)
def test_sampler_names_resolve_regardless_of_spelling(typed: str, canonical: str | None) -> None:
    """Accept the spellings users type for each sampler."""
    assert resolve_sampler_name(typed) == canonical


def test_scheduler_keeps_the_models_noise_schedule(tiny_engine: Engine) -> None:
    """Build schedulers from the model's own config, keeping its betas."""
    base = tiny_engine.model.txt2img.scheduler.config
    scheduler = build_scheduler("DPM++ 2M Karras", base)
    assert scheduler.config.beta_end == base.beta_end
    assert scheduler.config.use_karras_sigmas is True
