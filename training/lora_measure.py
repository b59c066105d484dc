"""Tell from pixels whether an image shows a ring, the shape the ``rings`` LoRA teaches.

The rule: an image shows a ring when its shape encloses a hole of background. The shape is
every pixel that differs clearly from the background (the nearest palette colour of the
image's border, as :mod:`training.measure` reads it); the outside is the background that can
be reached from the border without crossing the shape; what is neither is a hole. A ring is
a shape whose holes add up to at least :data:`MIN_HOLE_SHARE` of its filled outline (the
shape plus its holes). A drawn ring's hole is 24–33 % of it; the base model's filled
shapes, soft-edged or not, enclose none, and a speck of noise is far below the threshold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from training.measure import nearest_colour
from training.scenes import PALETTE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from PIL import Image

# A drawn ring's hole is HOLE_SHARE² ≈ 30 % of its outline; a soft-edged generated one,
# with its band bleeding inward, measures less: 6 % still leaves no doubt about a hole.
MIN_HOLE_SHARE = 0.06
_MIN_SHAPE_SHARE = 0.02  # below this share of the pixels there is no shape to speak of
_DIFFERENT = 50.0  # RGB distance from the background that marks a pixel as the shape's


def _background_rgb(pixels: np.ndarray) -> np.ndarray:
    """Return the palette colour nearest to the median of a frame a sixteenth wide."""
    height, width, _ = pixels.shape
    margin = max(1, min(width, height) // 16)
    frame = np.ones((height, width), dtype=bool)
    frame[margin:-margin, margin:-margin] = False
    name = nearest_colour(np.median(pixels[frame], axis=0))
    return np.array(PALETTE[name], dtype=np.float32)


def _outside(free: np.ndarray) -> np.ndarray:
    """Return the ``free`` pixels 4-connected to the image's border (a flood fill)."""
    reached = np.zeros_like(free)
    reached[0, :], reached[-1, :] = free[0, :], free[-1, :]
    reached[:, 0], reached[:, -1] = free[:, 0], free[:, -1]
    while True:
        grown = reached.copy()
        grown[1:, :] |= reached[:-1, :]
        grown[:-1, :] |= reached[1:, :]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= free
        if np.array_equal(grown, reached):
            return reached
        reached = grown


def hole_share(image: Image.Image) -> float:
    """Return the share of the shape's filled outline that is enclosed background (0 if none)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    shape = np.linalg.norm(pixels - _background_rgb(pixels), axis=2) > _DIFFERENT
    if shape.mean() < _MIN_SHAPE_SHARE:
        return 0.0
    holes = ~shape & ~_outside(~shape)
    return float(holes.sum() / (shape.sum() + holes.sum()))


def shows_ring(image: Image.Image) -> bool:
    """Return whether ``image`` shows a ring: a shape around a hole of background."""
    return hole_share(image) >= MIN_HOLE_SHARE


def share_showing(images: Iterable[Image.Image]) -> float:
    """Return the share of ``images`` that show a ring, for meaning tests of the LoRA."""
    readings = [shows_ring(image) for image in images]
    return sum(readings) / max(len(readings), 1)
