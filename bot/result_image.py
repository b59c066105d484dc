"""Encode a result image so it always fits the upload limit Discord gives the interaction.

PNG first (lossless, what users expect to download); if that is too large, high-quality WebP,
then JPEG, stepping quality down; only as a last resort is the image scaled down.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.metadata import exif_comment, png_info

if TYPE_CHECKING:
    from PIL import Image

_LOSSY_STEPS = (("WEBP", 95), ("WEBP", 90), ("JPEG", 92), ("WEBP", 80), ("JPEG", 80))
_EXTENSIONS = {"PNG": "png", "WEBP": "webp", "JPEG": "jpg"}
# Leave room for the multipart envelope and the JSON payload beside the file.
_ENVELOPE_BYTES = 16 * 1024
_ENVELOPE_SHARE = 0.1


@dataclass(frozen=True)
class EncodedImage:
    """Encoded bytes, the format used, and a file name with the right extension."""

    data: bytes
    format: str
    filename: str


def encode_to_fit(
    image: Image.Image, limit: int, stem: str, parameters: str | None = None
) -> EncodedImage:
    """Return the best encoding of ``image`` that fits in ``limit`` bytes.

    ``parameters`` travels with it: a PNG text chunk, or EXIF's UserComment in WebP and JPEG.
    """
    budget = limit - min(_ENVELOPE_BYTES, int(limit * _ENVELOPE_SHARE))
    candidate = _encode(image, "PNG", None, parameters)
    if len(candidate) <= budget:
        return EncodedImage(candidate, "PNG", f"{stem}.png")
    current = image
    while True:
        for image_format, quality in _LOSSY_STEPS:
            candidate = _encode(current, image_format, quality, parameters)
            if len(candidate) <= budget:
                extension = _EXTENSIONS[image_format]
                return EncodedImage(candidate, image_format, f"{stem}.{extension}")
        if min(current.size) <= 16:
            return EncodedImage(candidate, "JPEG", f"{stem}.jpg")
        width, height = current.size
        current = current.resize((max(1, width * 3 // 4), max(1, height * 3 // 4)))


def _encode(
    image: Image.Image, image_format: str, quality: int | None, parameters: str | None
) -> bytes:
    """Encode once, with the parameters where the format keeps them."""
    buffer = io.BytesIO()
    # PNG at zlib's default level: optimize=True made files ~5 % smaller but took 8x as long
    # (40 ms for a 128² grid, seconds for a 1024² one), time every job waits before posting.
    options: dict[str, object] = {}
    if quality is not None:
        options["quality"] = quality
    if parameters is not None:
        if image_format == "PNG":
            options["pnginfo"] = png_info(parameters)
        else:
            options["exif"] = exif_comment(parameters)
    image.convert("RGB").save(buffer, format=image_format, **options)
    return buffer.getvalue()
