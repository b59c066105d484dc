"""The synthetic world the built-in model learns: flat shapes on flat backgrounds.

Everything here is deterministic given a ``random.Random``, so training data, held-out
combinations and evaluation prompts are reproducible from a seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 70, 220),
    "yellow": (245, 220, 30),
    "orange": (250, 140, 20),
    "purple": (140, 50, 180),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
COLOURS = tuple(PALETTE)
SHAPES = ("circle", "square", "triangle", "star")
POSITIONS = (
    "center",
    "top left",
    "top right",
    "bottom left",
    "bottom right",
    "left",
    "right",
    "top",
    "bottom",
)
# Where each position puts the shape's centre, as fractions of the width and height.
ANCHORS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "top left": (0.27, 0.27),
    "top right": (0.73, 0.27),
    "bottom left": (0.27, 0.73),
    "bottom right": (0.73, 0.73),
    "left": (0.27, 0.5),
    "right": (0.73, 0.5),
    "top": (0.5, 0.27),
    "bottom": (0.5, 0.73),
}
_SUPERSAMPLE = 4


@dataclass(frozen=True)
class Scene:
    """One shape of one colour, somewhere on a background of another colour."""

    colour: str
    shape: str
    background: str
    position: str = "center"
    size: float = 0.42  # the shape's width as a fraction of the image's shorter side
    rotation: float = 0.0  # degrees, for triangles and stars


def combination(scene: Scene) -> tuple[str, str, str]:
    """Return the (colour, shape, background) triple that held-out sets are made of."""
    return (scene.colour, scene.shape, scene.background)


def all_combinations() -> list[tuple[str, str, str]]:
    """Return every colour × shape × background triple whose two colours differ."""
    return [
        (colour, shape, background)
        for colour in COLOURS
        for shape in SHAPES
        for background in COLOURS
        if colour != background
    ]


def held_out_combinations(count: int = 24, seed: int = 1234) -> frozenset[tuple[str, str, str]]:
    """Pick the fixed triples never shown in training, to measure generalisation.

    Each colour is held out as a shape colour and as a background at most a few times, so
    every word is still well seen in other combinations.
    """
    rng = random.Random(seed)
    candidates = all_combinations()
    rng.shuffle(candidates)
    chosen: list[tuple[str, str, str]] = []
    per_colour: dict[str, int] = {}
    per_background: dict[str, int] = {}
    for colour, shape, background in candidates:
        if per_colour.get(colour, 0) >= 3 or per_background.get(background, 0) >= 3:
            continue
        chosen.append((colour, shape, background))
        per_colour[colour] = per_colour.get(colour, 0) + 1
        per_background[background] = per_background.get(background, 0) + 1
        if len(chosen) == count:
            break
    return frozenset(chosen)


def random_scene(rng: random.Random, excluded: frozenset[tuple[str, str, str]]) -> Scene:
    """Draw a random scene whose triple is not in ``excluded``."""
    while True:
        colour, background = rng.sample(COLOURS, 2)
        shape = rng.choice(SHAPES)
        if (colour, shape, background) not in excluded:
            break
    return Scene(
        colour=colour,
        shape=shape,
        background=background,
        position=rng.choice(POSITIONS),
        size=rng.uniform(0.36, 0.5),
        rotation=rng.uniform(-12.0, 12.0),
    )


def shape_box(scene: Scene, width: int, height: int) -> tuple[float, float, float]:
    """Return the shape's centre (x, y) and radius in pixels for an image of this size."""
    anchor_x, anchor_y = ANCHORS[scene.position]
    radius = scene.size * min(width, height) / 2
    return anchor_x * width, anchor_y * height, radius


def _polygon(scene: Scene, cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    """Return the outline of a triangle or star, rotated by the scene's rotation."""
    turn = math.radians(scene.rotation) - math.pi / 2
    if scene.shape == "triangle":
        points = [(radius, turn + index * 2 * math.pi / 3) for index in range(3)]
        # Centre a triangle on its bounding box rather than its centroid, as people see it.
        cy += radius * 0.2
    else:
        points = [
            (radius if index % 2 == 0 else radius * 0.45, turn + index * math.pi / 5)
            for index in range(10)
        ]
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for r, a in points]


def render(scene: Scene, width: int = 64, height: int = 64) -> Image.Image:
    """Draw ``scene`` as an RGB image, anti-aliased by drawing large and shrinking."""
    big_width, big_height = width * _SUPERSAMPLE, height * _SUPERSAMPLE
    image = Image.new("RGB", (big_width, big_height), PALETTE[scene.background])
    draw = ImageDraw.Draw(image)
    cx, cy, radius = shape_box(scene, big_width, big_height)
    fill = PALETTE[scene.colour]
    if scene.shape == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    elif scene.shape == "square":
        side = radius * 0.88
        draw.rectangle((cx - side, cy - side, cx + side, cy + side), fill=fill)
    else:
        draw.polygon(_polygon(scene, cx, cy, radius), fill=fill)
    return image.resize((width, height), Image.Resampling.LANCZOS)
