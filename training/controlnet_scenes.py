"""The ControlNet's world: the base model's scenes, each shape centred in one cell of a 3×3 grid.

The base scenes place shapes at :data:`training.scenes.ANCHORS`, which lie inside the nine
cells of a 3×3 grid but not at their centres (0.27 and 0.73 of the side, where the centres
of the outer cells are 1/6 and 5/6), and draw shapes too large for a cell. Here a shape is
drawn smaller, centred in its cell with a little jitter, so that its outline (the control)
and the image agree on the cell, the figure the ControlNet is measured by. The nine
position names of :data:`training.scenes.POSITIONS` name the nine cells, so captions
(:func:`training.captions.caption`) that mention a position tell the truth.

Rendering reuses :func:`training.scenes.render`: the shape is drawn at the centre, then the
whole picture is moved by whole pixels over a background of its own colour, which is exact
for these flat backgrounds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageFilter

from training.scenes import PALETTE, Scene, random_scene, render

if TYPE_CHECKING:
    import random
    from collections.abc import Iterator

# The nine cells, row by row from the top left, each named by its position word.
CELLS = (
    "top left",
    "top",
    "top right",
    "left",
    "center",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)
# A shape's width as a share of the shorter side: a cell is a third of it, so the largest
# shape still leaves a margin in its cell and the border the reader takes for background.
SIZE_RANGE = (0.24, 0.32)
JITTER = 0.04  # how far a shape's centre may stray from its cell's, as a share of the side
SKETCH_SUPERSAMPLE = 4  # sketches are drawn at four times the size, as a member's would be
SKETCH_LINE = 5  # the sketch's pen width at that size, in pixels


@dataclass(frozen=True)
class PlacedScene:
    """A scene whose ``position`` names its cell, and how far its shape strays from the centre."""

    scene: Scene
    jitter_x: float = 0.0  # share of the width
    jitter_y: float = 0.0  # share of the height

    @property
    def cell(self) -> int:
        """Return the index of the scene's cell, row by row from the top left."""
        return CELLS.index(self.scene.position)


def cell_centre(cell: int) -> tuple[float, float]:
    """Return the centre of a cell as shares of the width and height."""
    row, column = divmod(cell, 3)
    return (column + 0.5) / 3, (row + 0.5) / 3


def cell_of(x: float, y: float) -> int:
    """Return the cell holding a point given as shares of the width and height."""
    column = min(2, max(0, int(x * 3)))
    row = min(2, max(0, int(y * 3)))
    return row * 3 + column


def placed_scene(
    rng: random.Random, cell: int, excluded: frozenset[tuple[str, str, str]]
) -> PlacedScene:
    """Draw a random scene with its shape in ``cell``, sized and jittered at random."""
    scene = random_scene(rng, excluded)
    scene = replace(scene, position=CELLS[cell], size=rng.uniform(*SIZE_RANGE))
    return PlacedScene(scene, rng.uniform(-JITTER, JITTER), rng.uniform(-JITTER, JITTER))


def placed_scenes(
    rng: random.Random, excluded: frozenset[tuple[str, str, str]]
) -> Iterator[PlacedScene]:
    """Yield random placed scenes forever, every nine of them one in each cell."""
    while True:
        cells = list(range(len(CELLS)))
        rng.shuffle(cells)
        for cell in cells:
            yield placed_scene(rng, cell, excluded)


def _moved(image: Image.Image, placed: PlacedScene, fill: tuple[int, int, int]) -> Image.Image:
    """Move a picture drawn at the centre so that its centre lands on the placed one."""
    width, height = image.size
    centre_x, centre_y = cell_centre(placed.cell)
    dx = round((centre_x + placed.jitter_x - 0.5) * width)
    dy = round((centre_y + placed.jitter_y - 0.5) * height)
    matrix = (1, 0, -dx, 0, 1, -dy)
    return image.transform(image.size, Image.Transform.AFFINE, matrix, fillcolor=fill)


def render_placed(placed: PlacedScene, width: int = 64, height: int = 64) -> Image.Image:
    """Draw a placed scene as the model should: its shape in its cell, anti-aliased."""
    centred = render(replace(placed.scene, position="center"), width, height)
    return _moved(centred, placed, PALETTE[placed.scene.background])


def sketch(placed: PlacedScene, width: int = 64, height: int = 64) -> Image.Image:
    """Draw what a member would sketch: the shape's outline in black pen on white paper.

    The sketch is drawn at :data:`SKETCH_SUPERSAMPLE` times the size with a pen
    :data:`SKETCH_LINE` pixels wide, a band across the shape's edge, and is meant to go
    through the ``scribble`` preprocessing, as a member's upload would.
    """
    big_width, big_height = width * SKETCH_SUPERSAMPLE, height * SKETCH_SUPERSAMPLE
    silhouette = replace(placed.scene, colour="black", background="white", position="center")
    mask = render(silhouette, big_width, big_height).convert("L").point(lambda v: 255 * (v < 128))
    grown = mask.filter(ImageFilter.MaxFilter(SKETCH_LINE))
    shrunk = mask.filter(ImageFilter.MinFilter(SKETCH_LINE))
    band = np.asarray(grown, dtype=np.int16) - np.asarray(shrunk, dtype=np.int16) > 0
    paper = np.where(band[:, :, None], 0, 255).astype(np.uint8).repeat(3, axis=2)
    return _moved(Image.fromarray(paper, mode="RGB"), placed, (255, 255, 255))
