"""The shipped ``rings`` LoRA through Easel: the built-in model draws rings with it, not without.

Drawn with the repository's own config.yaml (which offers ``models/loras``), through the same
path a member's ``--lora rings`` takes: the prompt parser, the catalog and the adapters.
Images are read back with ``shows_ring`` (a shape around a hole of background), asking for a
clear majority rather than every image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from training.lora_measure import share_showing

if TYPE_CHECKING:
    from pipeline.engine import Engine

CIRCLES = (
    "a red circle on a blue background",
    "a yellow ball on a purple background",
    "a white disc on a black background",
    "a blue circle on a yellow background",
)
OTHERS = ("a red square on a blue background", "a yellow star on a purple background")


@pytest.fixture
def builtin(builtin_engine: Engine) -> Engine:
    """Use the shipped model, loaded once for the session."""
    return builtin_engine


def draw(engine: Engine, prompts: tuple[str, ...], extra: str = "") -> list:  # type: ignore[type-arg]
    """Draw a grid of each prompt at a fixed seed and return every image."""
    images = []
    for index, prompt in enumerate(prompts):
        request = engine.parse(f"{prompt} --seed {100 + index} --steps 10 {extra}")
        images += engine.generate(request).images
    return images


def test_the_builtin_lora_is_offered_with_its_trigger_words(builtin: Engine) -> None:
    """List the shipped LoRA as an SD LoRA with its trigger words."""
    assert builtin.requests.loras is not None
    rings = builtin.requests.loras.find("rings")
    assert rings.family == "sd"
    assert "circle" in rings.triggers


def test_the_builtin_lora_turns_circles_into_rings(builtin: Engine) -> None:
    """Draw rings for circle prompts with --lora rings, and solid circles without it."""
    assert share_showing(draw(builtin, CIRCLES)) <= 0.1
    assert share_showing(draw(builtin, CIRCLES, "--lora rings")) >= 0.75


def test_the_builtin_lora_leaves_other_shapes_solid(builtin: Engine) -> None:
    """Draw squares and stars without a hole, LoRA or not."""
    assert share_showing(draw(builtin, OTHERS, "--lora rings")) <= 0.25


def test_the_builtin_lora_at_weight_zero_changes_nothing(builtin: Engine) -> None:
    """Draw exactly the no-LoRA pixels at --lora rings:0."""
    plain = draw(builtin, CIRCLES[:1])
    zero = draw(builtin, CIRCLES[:1], "--lora rings:0")
    assert all(
        np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(plain, zero, strict=True)
    )
