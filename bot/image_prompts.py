"""Image prompts: what an attached file must declare before it is fetched, and how it is kept.

Discord tells the bot an attachment's size, type and dimensions with the interaction, so a
file that is too large or not an image is refused before anything is acknowledged or
downloaded; what is downloaded is decoded, checked again and re-saved as a PNG of our own.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from pipeline.errors import InputImageError
from pipeline.images import ALLOWED_FORMATS, decode_input_image

if TYPE_CHECKING:
    from pathlib import Path

    import discord

    from pipeline.config import InputImageSettings

_IMAGE_TYPES = {f"image/{name.lower()}" for name in ALLOWED_FORMATS} | {"image/jpg"}


def declared_size(image: discord.Attachment, limits: InputImageSettings) -> tuple[int, int]:
    """Refuse an attachment by what Discord declares about it; return its width and height."""
    if image.size > limits.max_bytes:
        raise InputImageError(
            f"The image is {image.size / 1048576:.1f} MB; the limit is "
            f"{limits.max_bytes / 1048576:.1f} MB."
        )
    if image.content_type and image.content_type.split(";")[0] not in _IMAGE_TYPES:
        raise InputImageError("That file is not a PNG, JPEG or WebP image.")
    return (image.width or 512, image.height or 512)


async def save_attachment(
    attachment: discord.Attachment, limits: InputImageSettings, folder: Path
) -> Path:
    """Download, check and re-save an attached image as PNG in ``folder``."""
    data = await attachment.read()
    image = await asyncio.to_thread(decode_input_image, data, limits)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.png"
    await asyncio.to_thread(image.save, path, "PNG")
    return path
