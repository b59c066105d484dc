"""Read a drawn scene back: background colour, shape colour, shape kind and position.

Colours are the nearest palette colour of the border's pixels (background) and of the pixels
that differ clearly from the background (shape). The kind is told by two ratios of the
shape's pixel mask: its area over its convex hull's (a star is far from convex) and its area
over its bounding box's (square ≈ 1, circle ≈ π/4, triangle ≈ ½).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from training.scenes import ANCHORS, PALETTE

if TYPE_CHECKING:
    from PIL import Image

_PALETTE_NAMES = list(PALETTE)
_PALETTE_RGB = np.array([PALETTE[name] for name in _PALETTE_NAMES], dtype=np.float32)
_MIN_SHAPE_SHARE = 0.02  # below this share of the pixels there is no shape to speak of
# RGB distance from the background that marks a pixel as the shape's; the closest palette
# pair, orange and yellow, is 81 apart.
_DIFFERENT = 50.0


@dataclass(frozen=True)
class SceneReading:
    """What an image shows, as far as pixels can tell; None where nothing clear is drawn."""

    background_colour: str
    shape_colour: str | None
    shape: str | None
    position: str | None


def nearest_colour(rgb: np.ndarray) -> str:
    """Return the palette name nearest to one RGB triple."""
    distances = np.linalg.norm(_PALETTE_RGB - rgb.astype(np.float32), axis=1)
    return _PALETTE_NAMES[int(np.argmin(distances))]


def _border(pixels: np.ndarray) -> np.ndarray:
    """Return the pixels of a frame a sixteenth of the image wide."""
    height, width, _ = pixels.shape
    margin = max(1, min(width, height) // 16)
    mask = np.ones((height, width), dtype=bool)
    mask[margin:-margin, margin:-margin] = False
    return pixels[mask]


def _convex_hull_area(points: np.ndarray) -> float:
    """Return the area of the convex hull of 2-D points (Andrew's monotone chain)."""
    ordered = sorted(set(map(tuple, points.tolist())))
    if len(ordered) < 3:
        return 0.0

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for point in ordered:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], point) <= 0:
            lower.pop()
        lower.append(point)
    for point in reversed(ordered):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], point) <= 0:
            upper.pop()
        upper.append(point)
    hull = np.array(lower[:-1] + upper[:-1], dtype=np.float64)
    x, y = hull[:, 0], hull[:, 1]
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def classify_shape(mask: np.ndarray) -> str:
    """Tell circle, square, triangle or star from a boolean pixel mask."""
    rows, columns = np.nonzero(mask)
    area = float(mask.sum())
    # Pixel corners, so the hull of a filled square covers the whole square.
    corners = np.concatenate(
        [np.stack([columns + dx, rows + dy], axis=1) for dx in (0, 1) for dy in (0, 1)]
    )
    convexity = area / max(_convex_hull_area(corners), 1.0)
    box = (np.ptp(rows) + 1) * (np.ptp(columns) + 1)
    fill = area / box
    if convexity < 0.8:
        return "star"
    if fill > 0.87:
        return "square"
    if fill > 0.64:
        return "circle"
    return "triangle"


def nearest_position(x: float, y: float) -> str:
    """Return the named position nearest to a point given as fractions of width and height."""
    return min(ANCHORS, key=lambda name: (ANCHORS[name][0] - x) ** 2 + (ANCHORS[name][1] - y) ** 2)


def measure_scene(image: Image.Image) -> SceneReading:
    """Read background colour, shape colour, shape and position from a drawn scene."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width, _ = pixels.shape
    background_rgb = np.median(_border(pixels), axis=0)
    background = nearest_colour(background_rgb)
    mask = (
        np.linalg.norm(pixels - _PALETTE_RGB[_PALETTE_NAMES.index(background)], axis=2) > _DIFFERENT
    )
    if mask.mean() < _MIN_SHAPE_SHARE:
        return SceneReading(background, None, None, None)
    colour = nearest_colour(np.median(pixels[mask], axis=0))
    rows, columns = np.nonzero(mask)
    position = nearest_position(columns.mean() / width, rows.mean() / height)
    return SceneReading(background, colour, classify_shape(mask), position)
