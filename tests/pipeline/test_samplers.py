"""Samplers: every advertised name builds a scheduler that can draw."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import diffusers
import pytest

from pipeline.samplers import SAMPLERS, UNET_SAMPLERS, build_scheduler, resolve_sampler_name

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine, Progress


@pytest.mark.parametrize("name", UNET_SAMPLERS)
def test_every_sampler_draws(tiny_engine: Engine, tiny_model_dir: Path, name: str) -> None:
    """Run two steps with the named sampler's scheduler and options, and draw."""
    request = replace(
        tiny_engine.parse("a red circle --seed 1 --steps 2"), sampler=name, num_images=1
    )
    pipe = tiny_engine.model.txt2img
    in_use: list[Any] = []

    def note_the_scheduler(_progress: Progress) -> None:
        in_use.append(pipe.scheduler)

    result = tiny_engine.generate(request, progress=note_the_scheduler)
    assert len(result.images) == 1
    assert in_use
    scheduler = in_use[0]
    assert all(seen is scheduler for seen in in_use)
    spec = SAMPLERS[name]
    scheduler_class = getattr(diffusers, spec.class_name)
    model_config = scheduler_class.load_config(tiny_model_dir, subfolder="scheduler")
    expected = scheduler_class.from_config(model_config, **spec.options)
    assert type(scheduler) is type(expected)
    assert dict(scheduler.config) == dict(expected.config)
    assert scheduler.num_inference_steps == 2


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
