"""Turn a member's image into the control image a ControlNet reads: white lines on black.

ControlNets are trained on preprocessed images (edges, scribbles, line drawings), never on
photographs, so an attached image is preprocessed the same way before it conditions a job.
The OpenCV modes here run offline, on the CPU, in milliseconds, and are deterministic: the
same image and size always give the same pixels. Every result is an RGB image of exactly the
requested size, so it can be handed to a diffusers ControlNet pipeline as it is.

- ``canny``: :func:`cv2.Canny` edges, after resizing to the output size, with the thresholds
  of the reference annotator (100, 200), computed on the RGB image as that annotator does:
  OpenCV then takes each pixel's strongest channel gradient, so red on purple (two colours
  of nearly the same grey) still has an outline. The built-in model's ControlNet was
  trained on exactly this (``training/controlnet.py``), so train and inference agree.
- ``scribble``: a member's sketch, dark strokes on light paper or light on dark. A stroke
  is whatever differs from the page's dominant colour, in either direction, so a sketch and
  its negative give the same strokes; strokes are thinned to one pixel, then drawn at a
  width that grows with the size (one pixel at 64×64, like a Canny line).
- ``lineart``: a line drawing of any image: pixels darker than their neighbourhood, by an
  adaptive threshold of the grey image; a filled shape comes out as its outline.

``depth`` and ``pose`` need models of their own and are not handled here: asking this module
for them raises :class:`ValueError`.
"""

from __future__ import annotations

from typing import Literal, get_args

import cv2
import numpy as np
from PIL import Image

ControlMode = Literal["canny", "scribble", "lineart", "depth", "pose"]
CONTROL_MODES: tuple[ControlMode, ...] = get_args(ControlMode)
OPENCV_MODES: tuple[ControlMode, ...] = ("canny", "scribble", "lineart")

CANNY_THRESHOLDS = (100, 200)  # the reference ControlNet annotator's low and high thresholds
# A pixel is part of a stroke when one of its channels is this far from the page's colour:
# far above JPEG noise and paper texture, far below any pen on paper.
SCRIBBLE_DIFFERENCE = 64
# Share of an output pixel a stroke must cover, once the sketch is resized, to count.
SCRIBBLE_COVERAGE = 0.05
LINEART_OFFSET = 8  # how much darker than its neighbourhood a pixel of a line must be


def control_image(image: Image.Image, mode: ControlMode, size: tuple[int, int]) -> Image.Image:
    """Return ``image`` preprocessed for a ``mode`` ControlNet, RGB, ``size`` (width, height)."""
    width, height = size
    if width < 1 or height < 1:
        raise ValueError(f"A control image needs a positive size, not {width}×{height}.")
    if mode not in OPENCV_MODES:
        raise ValueError(f"Control mode {mode!r} is not an OpenCV mode {OPENCV_MODES}.")
    pixels = np.asarray(image.convert("RGB"))
    if mode == "canny":
        lines = canny_lines(pixels, size)
    elif mode == "scribble":
        lines = scribble_lines(pixels, size)
    else:
        lines = lineart_lines(pixels, size)
    return Image.fromarray(np.repeat(lines[:, :, None], 3, axis=2), mode="RGB")


def _resized(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an array to ``size`` (width, height): area averaging down, bilinear up."""
    if (pixels.shape[1], pixels.shape[0]) == size:
        return pixels
    shrinking = size[0] * size[1] < pixels.shape[0] * pixels.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(pixels, size, interpolation=interpolation)


def canny_lines(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return the Canny edges (255 on 0, uint8) of RGB ``pixels`` resized to ``size``."""
    low, high = CANNY_THRESHOLDS
    return cv2.Canny(np.ascontiguousarray(_resized(pixels, size)), low, high)


def line_width(size: tuple[int, int]) -> int:
    """Return the stroke width for an output size: one pixel up to 191 pixels, then wider."""
    return max(1, round(min(size) / 128))


def dominant_colour(pixels: np.ndarray) -> np.ndarray:
    """Return the page colour of RGB pixels: the mean of their most common colour bin.

    Bins are 16 levels a channel; a large image is sampled on a grid of about a million
    pixels, which finds the same page.
    """
    step = max(1, int((pixels.shape[0] * pixels.shape[1] / 1_000_000) ** 0.5))
    flat = pixels[::step, ::step].reshape(-1, 3)
    bins = flat.astype(np.int32) // 16
    codes = bins[:, 0] * 256 + bins[:, 1] * 16 + bins[:, 2]
    common = int(np.argmax(np.bincount(codes, minlength=4096)))
    return np.asarray(np.round(flat[codes == common].mean(axis=0)), dtype=np.uint8)


def scribble_lines(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return a sketch's strokes (255 on 0, uint8) at ``size``, thinned and redrawn evenly."""
    page = dominant_colour(pixels)
    # |pixel - page| per channel in uint8, which stays exact and small for large photos.
    difference = (np.maximum(pixels, page) - np.minimum(pixels, page)).max(axis=2)
    strokes = (difference > SCRIBBLE_DIFFERENCE).astype(np.float32)
    coverage = _resized(strokes, size)
    skeleton = thin(coverage > SCRIBBLE_COVERAGE)
    width = line_width(size)
    if width > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
        skeleton = cv2.dilate(skeleton.astype(np.uint8), kernel).astype(bool)
    return skeleton.astype(np.uint8) * 255


def _neighbours(mask: np.ndarray) -> list[np.ndarray]:
    """Return the eight neighbours P2..P9 of every pixel (clockwise from north), as 0/1."""
    padded = np.pad(mask.astype(np.uint8), 1)
    height, width = mask.shape
    offsets = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
    return [padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width] for dy, dx in offsets]


def thin(mask: np.ndarray) -> np.ndarray:
    """Thin a boolean mask to lines one pixel wide (Zhang and Suen's algorithm)."""
    skeleton = mask.copy()
    changed = True
    while changed:
        changed = False
        for first in (True, False):
            p = _neighbours(skeleton)
            count = sum(neighbour.astype(np.int32) for neighbour in p)
            ring = [*p, p[0]]
            transitions = sum(
                ((ring[index] == 0) & (ring[index + 1] == 1)).astype(np.int32) for index in range(8)
            )
            if first:
                clear = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                clear = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            removable = skeleton & (count >= 2) & (count <= 6) & (transitions == 1) & clear
            if removable.any():
                skeleton &= ~removable
                changed = True
    return skeleton


def lineart_lines(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return a line drawing (255 on 0, uint8): pixels darker than their surroundings."""
    grey = cv2.cvtColor(np.ascontiguousarray(_resized(pixels, size)), cv2.COLOR_RGB2GRAY)
    block = 2 * line_width(size) + 1
    return cv2.adaptiveThreshold(
        grey,
        255,
        cv2.ADAPTIVE_THRESH_GAUSSIAN_C,
        cv2.THRESH_BINARY_INV,
        block,
        LINEART_OFFSET,
    )
