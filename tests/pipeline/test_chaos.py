"""Midjourney's --chaos: the four images of a grid differ more in what they show."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest

from pipeline.errors import ParameterError
from training.measure import measure_scene

if TYPE_CHECKING:
    from pipeline.engine import Engine

PROMPT = "a red circle on a blue background"


@pytest.fixture
def builtin(builtin_engine: Engine) -> Engine:
    """Use the shipped model, loaded once for the session."""
    return builtin_engine


def readings(engine: Engine, chaos: int) -> list[tuple[str | None, str | None, str]]:
    """Return (shape, shape colour, background) for two grids of the prompt at ``chaos``."""
    found = []
    for seed in (1, 11):
        images = engine.generate(engine.parse(f"{PROMPT} --seed {seed} --chaos {chaos}")).images
        found += [
            (r.shape, r.shape_colour, r.background_colour) for r in map(measure_scene, images)
        ]
    return found


def test_high_chaos_shows_more_different_things_while_mostly_on_prompt(builtin: Engine) -> None:
    """Read more distinct shapes and colours at --chaos 100 than at 0, most still as asked."""
    calm, wild = readings(builtin, 0), readings(builtin, 100)
    assert len(set(wild)) >= len(set(calm)) + 2
    on_prompt = sum(
        (shape_colour, background) == ("red", "blue") for _, shape_colour, background in wild
    )
    assert on_prompt >= len(wild) // 2


def test_chaos_zero_is_the_request_without_chaos(tiny_engine: Engine) -> None:
    """Draw --chaos 0 exactly as a prompt without --chaos."""
    plain = tiny_engine.generate(tiny_engine.parse("a fox --seed 4"))
    zero = tiny_engine.generate(tiny_engine.parse("a fox --seed 4 --chaos 0"))
    assert all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(plain.images, zero.images, strict=True)
    )


def test_a_chaotic_image_is_the_same_whatever_it_is_batched_with(tiny_engine: Engine) -> None:
    """Give a --chaos image the same pixels (within round-off) alone and in a batch."""
    chaotic = tiny_engine.parse("a fox --seed 4 --chaos 80")
    other = replace(tiny_engine.parse("a cat --seed 9"), chaos=0)
    alone = tiny_engine.generate(chaotic).images
    together = tiny_engine.generate_batch([other, chaotic])[1].images
    for merged, single in zip(together, alone, strict=True):  # within batched round-off
        assert np.abs(np.asarray(merged, int) - np.asarray(single, int)).max() <= 1


@pytest.mark.parametrize("value", ["-1", "101", "lots", ""])
def test_chaos_outside_zero_to_a_hundred_is_refused(tiny_engine: Engine, value: str) -> None:
    """Refuse --chaos values that are not whole numbers from 0 to 100."""
    with pytest.raises(ParameterError, match="--chaos must be a whole number from 0 to 100"):
        tiny_engine.parse(f"a fox --chaos {value}")
