"""Decode untrusted input images safely, and compose output grids.

Users attach images from anywhere, so every check happens before pixels are decoded where it
can: the size in bytes, the format (PNG, JPEG or WebP only, sniffed from the bytes, not the
name), and the pixel count read from the header, so a decompression bomb is refused without
being expanded. Then the first frame is fully decoded (a truncated file fails here, not later
inside the pipeline), EXIF orientation is applied and the result is flattened to RGB.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from typing import TYPE_CHECKING

from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.errors import InputImageError
from pipeline.metadata import png_info

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pipeline.config import InputImageSettings

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
MIN_SIDE = 8
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def decode_input_image(data: bytes, limits: InputImageSettings) -> Image.Image:
    """Return the image in ``data`` as RGB, or raise :class:`InputImageError` saying why not."""
    if not data:
        raise InputImageError("The image file is empty.")
    if len(data) > limits.max_bytes:
        raise InputImageError(
            f"The image is {_megabytes(len(data))}; the limit is {_megabytes(limits.max_bytes)}."
        )
    image = _open(data)
    width, height = image.size
    if width * height > limits.max_pixels:
        raise InputImageError(
            f"The image is {width}×{height} pixels; the limit is "
            f"{limits.max_pixels / 1e6:.0f} megapixels. Send a smaller image."
        )
    if min(width, height) < MIN_SIDE:
        raise InputImageError(f"The image is {width}×{height} pixels; each side needs {MIN_SIDE}+.")
    try:
        image.seek(0)  # animations: the first frame only
        image.load()
        image = ImageOps.exif_transpose(image)
        return _to_rgb(image)
    except _DECODE_ERRORS:
        raise InputImageError(
            "The image could not be decoded: it is damaged or truncated. Try re-saving it."
        ) from None


def read_input_image(path: Path, limits: InputImageSettings) -> Image.Image:
    """Read and decode an image file with the same checks, refusing oversized files unread."""
    try:
        size = path.stat().st_size
    except OSError:
        raise InputImageError(f"The image file {path.name} cannot be read.") from None
    if size > limits.max_bytes:
        raise InputImageError(
            f"The image is {_megabytes(size)}; the limit is {_megabytes(limits.max_bytes)}."
        )
    return decode_input_image(path.read_bytes(), limits)


def save_outputs(
    folder: Path, images: Sequence[Image.Image], parameters: Sequence[str] = ()
) -> tuple[Path, ...]:
    """Save a job's images as ``1.png``, ``2.png`` ... in ``folder``; return their paths.

    ``parameters`` (one text per image) goes into each file's ``parameters`` chunk
    (:mod:`pipeline.metadata`), so other tools can read how it was made.

    Each file is written under a hidden temporary name, flushed to disk and only then renamed,
    so a full disk or a crash never leaves a truncated PNG under a finished name. If any image
    cannot be saved, those this call saved are removed too and the error is raised: a job has
    all its files or none.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    try:
        for index, image in enumerate(images, start=1):
            text = parameters[index - 1] if index <= len(parameters) else None
            paths.append(_save_png(image, folder / f"{index}.png", text))
    except BaseException:
        remove_outputs(paths)
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty: another attempt's files stay
        raise
    return tuple(paths)


def remove_outputs(paths: Sequence[Path]) -> None:
    """Delete saved images of a job that will not be recorded done."""
    for path in paths:
        path.unlink(missing_ok=True)


def _save_png(image: Image.Image, path: Path, parameters: str | None) -> Path:
    """Write one PNG completely under a temporary name, then give it its own."""
    partial = path.with_name(f".{path.name}.partial")
    info = png_info(parameters) if parameters is not None else None
    try:
        with partial.open("wb") as file:
            image.save(file, format="PNG", pnginfo=info)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def make_grid(images: Sequence[Image.Image], columns: int = 2) -> Image.Image:
    """Compose equally sized images into one grid, row by row (the 2×2 of a job)."""
    if not images:
        raise ValueError("a grid needs at least one image")
    width, height = images[0].size
    rows = -(-len(images) // columns)
    grid = Image.new("RGB", (width * min(columns, len(images)), height * rows))
    for index, image in enumerate(images):
        grid.paste(image, ((index % columns) * width, (index // columns) * height))
    return grid


def _open(data: bytes) -> Image.Image:
    """Open lazily (header only), mapping every refusal to a message a user understands."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        raise InputImageError(
            "That file is not a PNG, JPEG or WebP image. Send one of those formats."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputImageError("The image has far too many pixels. Send a smaller image.") from None
    except _DECODE_ERRORS:
        raise InputImageError(
            "The image could not be read: its header is damaged. Try re-saving it."
        ) from None


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten any mode to RGB; transparent areas become white, as most viewers show them."""
    if image.mode == "RGB":
        return image
    if (image.mode in ("P", "PA") and "transparency" in image.info) or image.mode in ("PA", "LA"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _megabytes(size: int) -> str:
    """Format a byte count for people."""
    return f"{size / (1024 * 1024):.1f} MB"
