"""Reading scenes back from pixels, the yardstick of every meaning test."""

from __future__ import annotations

import random

from PIL import Image

from training.measure import measure_scene
from training.scenes import COLOURS, SHAPES, Scene, random_scene, render


def test_every_colour_and_shape_is_read_back_from_a_clean_render() -> None:
    """Read shape colour, background colour, shape and position of rendered scenes."""
    for index, colour in enumerate(COLOURS):
        background = COLOURS[(index + 3) % len(COLOURS)]
        for shape in SHAPES:
            scene = Scene(colour, shape, background, "center", size=0.45)
            reading = measure_scene(render(scene, 64, 64))
            assert (reading.shape_colour, reading.background_colour) == (colour, background)
            assert reading.shape == shape
            assert reading.position == "center"


def test_random_scenes_are_read_back_almost_always() -> None:
    """Read back at least 97 % of random scenes' every attribute, wherever the shape is."""
    rng = random.Random(3)
    scenes = [random_scene(rng, frozenset()) for _ in range(200)]
    right = 0
    for scene in scenes:
        reading = measure_scene(render(scene, 64, 64))
        read = (reading.shape_colour, reading.background_colour, reading.shape, reading.position)
        right += read == (scene.colour, scene.background, scene.shape, scene.position)
    assert right >= 194


def test_a_plain_image_has_no_shape() -> None:
    """Report no shape on an image of one colour."""
    reading = measure_scene(Image.new("RGB", (64, 64), (245, 245, 245)))
    assert reading.background_colour == "white"
    assert reading.shape_colour is None
