"""The synthetic world: reproducible held-out combinations and faithful rendering."""

from __future__ import annotations

import random

from training.scenes import (
    COLOURS,
    SHAPES,
    Scene,
    all_combinations,
    combination,
    held_out_combinations,
    random_scene,
    render,
)


def test_the_held_out_set_is_fixed_and_leaves_every_word_seen() -> None:
    """Pick the same held-out triples every time, and keep every colour and shape in training."""
    held_out = held_out_combinations()
    assert held_out == held_out_combinations()
    assert len(held_out) == 24
    seen = set(all_combinations()) - held_out
    assert {colour for colour, _, _ in seen} == set(COLOURS)
    assert {shape for _, shape, _ in seen} == set(SHAPES)
    assert {background for _, _, background in seen} == set(COLOURS)


def test_random_scenes_never_draw_an_excluded_combination() -> None:
    """Leave held-out triples out of everything training sees."""
    held_out = held_out_combinations()
    rng = random.Random(0)
    assert not any(combination(random_scene(rng, held_out)) in held_out for _ in range(2000))


def test_a_rendered_scene_has_the_background_colour_at_its_border() -> None:
    """Paint the background colour where the shape is not."""
    image = render(Scene("red", "circle", "blue", "center"), 80, 48)
    assert image.size == (80, 48)
    assert image.getpixel((0, 0)) == (30, 70, 220)
    assert image.getpixel((40, 24)) == (220, 30, 30)
