"""Where an edit puts the source on its new canvas, and what the model may repaint.

Zoom Out, Pan, Make Square and Vary (Region) are all inpainting: a canvas, the source's
pixels placed on it, and a mask over what the model draws (the new border, the new strip,
the chosen cells). An :class:`Edit` records that geometry in output pixels, so a stored job
redraws exactly the same edit. The mask reaches a little past the kept pixels (the seam), so
the model blends into them; after generation the kept pixels are pasted back under a
feathered edge (:func:`paste_back`), so outside the seam they stay exactly as they were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageFilter

from pipeline.errors import ParameterError

EditKind = Literal["zoom", "pan", "square", "region"]
Direction = Literal["left", "right", "up", "down"]
DIRECTIONS: tuple[Direction, ...] = ("left", "right", "up", "down")
ARROWS: dict[Direction, str] = {"left": "⬅️", "right": "➡️", "up": "⬆️", "down": "⬇️"}
GRID_SIDE = 3  # Vary (Region) picks cells of a 3×3 grid: 0 is top left, 8 bottom right
CELL_NAMES = (
    "top left",
    "top",
    "top right",
    "left",
    "centre",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)
MIN_ZOOM, MAX_ZOOM = 1.0, 2.0
SEAM_SHARE = 1 / 16  # of the canvas's shorter side: how far the repaint reaches into kept pixels
MIN_SEAM = 4


@dataclass(frozen=True)
class Edit:
    """One edit of an image: the source's box on the canvas, and for a region, its cells.

    ``box`` is (left, top, width, height) in canvas pixels and may reach past the canvas (a
    pan that shifts). For a region the box is the whole canvas and ``cells`` says what to
    redraw.
    """

    kind: EditKind
    box: tuple[int, int, int, int]
    cells: tuple[int, ...] = ()
    factor: float = 1.0  # a zoom's factor, for display
    direction: Direction | None = None  # a pan's direction

    @property
    def label(self) -> str:
        """Return what the edit is called on buttons and messages."""
        if self.kind == "zoom":
            return f"zoom out {self.factor:g}x"
        if self.kind == "pan" and self.direction is not None:
            return f"pan {self.direction} {ARROWS[self.direction]}"
        if self.kind == "square":
            return "make square"
        return "vary region: " + ", ".join(CELL_NAMES[cell] for cell in self.cells)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "kind": self.kind,
            "box": list(self.box),
            "cells": list(self.cells),
            "factor": self.factor,
            "direction": self.direction,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Edit:
        """Rebuild an edit stored with :meth:`to_dict`."""
        box = tuple(int(value) for value in data["box"])
        return cls(
            kind=data["kind"],
            box=(box[0], box[1], box[2], box[3]),
            cells=tuple(int(cell) for cell in data.get("cells", ())),
            factor=float(data.get("factor", 1.0)),
            direction=data.get("direction"),
        )


def native_canvas(ratio: float, native_pixels: int, multiple: int) -> tuple[int, int]:
    """Return a canvas of ``ratio`` at the model's native pixel count, sides on ``multiple``."""
    height = math.sqrt(native_pixels / ratio)
    return _side(height * ratio, multiple), _side(height, multiple)


def zoom_edit(
    source: tuple[int, int],
    factor: float,
    *,
    ratio: float | None,
    native_pixels: int,
    multiple: int,
) -> tuple[tuple[int, int], Edit]:
    """Shrink the source into the centre of a native canvas by ``factor`` (Zoom Out).

    The canvas keeps the source's aspect unless ``ratio`` (a custom zoom's ``--ar``) says.
    """
    if not MIN_ZOOM <= factor <= MAX_ZOOM:
        raise ParameterError(f"The zoom takes a factor from {MIN_ZOOM:g} to {MAX_ZOOM:g}.")
    width, height = native_canvas(ratio or source[0] / source[1], native_pixels, multiple)
    scale = min(width / source[0], height / source[1]) / factor
    inner = (max(1, round(source[0] * scale)), max(1, round(source[1] * scale)))
    if inner[0] >= width and inner[1] >= height:
        raise ParameterError(
            "Zooming out by 1 at the same aspect leaves nothing to paint: give a factor above "
            "1, or a new --ar."
        )
    box = ((width - inner[0]) // 2, (height - inner[1]) // 2, *inner)
    kind: EditKind = "square" if ratio == 1 and factor == 1 else "zoom"
    return (width, height), Edit(kind, box, factor=factor)


def square_edit(
    source: tuple[int, int], *, native_pixels: int, multiple: int
) -> tuple[tuple[int, int], Edit]:
    """Extend the source's short side to make a square (Make Square)."""
    if source[0] == source[1]:
        raise ParameterError("This image is square already.")
    return zoom_edit(source, 1.0, ratio=1.0, native_pixels=native_pixels, multiple=multiple)


def pan_edit(
    source: tuple[int, int],
    direction: Direction,
    *,
    native_pixels: int,
    max_pixels: int,
    max_aspect: float,
    multiple: int,
) -> tuple[tuple[int, int], Edit]:
    """Extend the canvas by half its side towards ``direction`` and paint the new strip (Pan).

    The source is first brought to the model's native pixel count, which bounds the cost of
    every pan. A canvas past ``max_pixels`` or ``max_aspect`` keeps its size and shifts
    instead: the far half of the source leaves it.
    """
    width, height = native_canvas(source[0] / source[1], native_pixels, multiple)
    axis = 0 if direction in ("left", "right") else 1
    side = (width, height)[axis]
    grown = [width, height]
    grown[axis] = _side(side * 1.5, multiple)
    fits = grown[0] * grown[1] <= max_pixels and max(grown) / min(grown) <= max_aspect
    canvas = (grown[0], grown[1]) if fits else (width, height)
    # The strip is new; the source sits after it (left, up) or before it (right, down).
    strip = canvas[axis] - side if fits else side // 2
    offset = strip if direction in ("left", "up") else canvas[axis] - side - strip
    left, top = (offset, 0) if axis == 0 else (0, offset)
    return canvas, Edit("pan", (left, top, width, height), direction=direction)


def region_edit(size: tuple[int, int], cells: tuple[int, ...]) -> Edit:
    """Redraw the chosen cells of a 3×3 grid over the whole image (Vary Region)."""
    chosen = tuple(sorted(set(cells)))
    if not chosen or any(not 0 <= cell < GRID_SIDE**2 for cell in chosen):
        raise ParameterError("Choose at least one region of the 3×3 grid to redraw.")
    if len(chosen) == GRID_SIDE**2:
        raise ParameterError("That is the whole image: use Vary (Strong) to redraw all of it.")
    return Edit("region", (0, 0, *size), cells=chosen)


def edit_inputs(
    source: Image.Image, canvas: tuple[int, int], edit: Edit
) -> tuple[Image.Image, Image.Image, Image.Image]:
    """Return the inpainting inputs: the canvas image, the repaint mask, and the keep mask.

    Outside the source's box the canvas repeats the source's edge pixels, so the VAE reads
    plausible colours next to the seam; the model redraws that area from noise anyway.
    """
    placed = source.convert("RGB").resize(edit.box[2:], Image.Resampling.LANCZOS)
    pixels = np.asarray(placed)
    left, top, width, height = edit.box
    rows = np.clip(np.arange(canvas[1]) - top, 0, height - 1)
    columns = np.clip(np.arange(canvas[0]) - left, 0, width - 1)
    image = Image.fromarray(np.ascontiguousarray(pixels[rows][:, columns]))
    keep = np.zeros((canvas[1], canvas[0]), dtype=bool)
    keep[max(0, top) : max(0, top + height), max(0, left) : max(0, left + width)] = True
    for cell in edit.cells:
        keep[_cell_slices(canvas, cell)] = False
    seam = seam_width(canvas)
    repaint = _grow(~keep, seam)
    return image, _mask_image(repaint), _mask_image(_feathered(keep, seam))


def paste_back(generated: Image.Image, canvas_image: Image.Image, keep: Image.Image) -> Image.Image:
    """Put the kept pixels back over a generated image, blended across the seam."""
    return Image.composite(canvas_image, generated.convert("RGB"), keep)


def seam_width(canvas: tuple[int, int]) -> int:
    """Return how many pixels the repaint reaches into the kept ones."""
    return max(MIN_SEAM, round(min(canvas) * SEAM_SHARE))


def cell_box(canvas: tuple[int, int], cell: int) -> tuple[int, int, int, int]:
    """Return the (left, top, right, bottom) pixels of one cell of the 3×3 grid."""
    rows, columns = _cell_slices(canvas, cell)
    return int(columns.start), int(rows.start), int(columns.stop), int(rows.stop)


def _cell_slices(canvas: tuple[int, int], cell: int) -> tuple[slice, slice]:
    """Return the row and column slices of one cell of the 3×3 grid."""
    row, column = divmod(cell, GRID_SIDE)
    ys = [round(canvas[1] * i / GRID_SIDE) for i in range(GRID_SIDE + 1)]
    xs = [round(canvas[0] * i / GRID_SIDE) for i in range(GRID_SIDE + 1)]
    return slice(ys[row], ys[row + 1]), slice(xs[column], xs[column + 1])


def _grow(mask: np.ndarray[Any, Any], pixels: int) -> np.ndarray[Any, Any]:
    """Grow a boolean mask by ``pixels`` in every direction (a square dilation)."""
    image = Image.fromarray(mask.astype(np.uint8) * 255).filter(
        ImageFilter.MaxFilter(2 * pixels + 1)
    )
    return np.asarray(image) > 0


def _feathered(keep: np.ndarray[Any, Any], seam: int) -> np.ndarray[Any, Any]:
    """Return the keep mask as 0–1 weights that fall to 0 across the seam, 1 past it."""
    inner = ~_grow(~keep, seam // 2)
    blurred = Image.fromarray(inner.astype(np.uint8) * 255).filter(
        ImageFilter.BoxBlur(max(1, seam // 2))
    )
    weights = np.asarray(blurred, dtype=np.float32) / 255
    return np.where(_grow(~keep, seam), weights, 1.0)


def _mask_image(weights: np.ndarray[Any, Any]) -> Image.Image:
    """Return 0–1 weights (or booleans) as an 8-bit mask image."""
    return Image.fromarray(
        np.round(np.asarray(weights, dtype=np.float32) * 255).astype(np.uint8), "L"
    )


def _side(side: float, multiple: int) -> int:
    """Round a side to the model's multiple, never below one multiple."""
    return max(multiple, multiple * round(side / multiple))
