"""Generation parameters written into every image, in the form other tools read.

A1111 and Forge's "PNG Info" tab and Civitai read a PNG ``tEXt`` chunk named ``parameters``:
the prompt, then ``Negative prompt: …``, then one line of ``Key: value`` pairs separated by
``", "`` (a value with a comma is quoted). In WebP and JPEG the same text goes into EXIF's
UserComment, marked as UTF-16, as A1111 writes it. A grid carries the first image's seed,
as A1111's grids do, and every image's seed under ``Grid seeds``. LoRAs are written as A1111
writes them, ``<lora:NAME:WEIGHT>`` at the end of the prompt, and listed under ``Lora weights``;
``--chaos`` is recorded as ``Chaos``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image, PngImagePlugin

if TYPE_CHECKING:
    from pipeline.request import GenerationRequest

PNG_KEY = "parameters"
EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
_UNICODE_MARK = b"UNICODE\x00"


def parameters_text(request: GenerationRequest, *, seed: int | None = None) -> str:
    """Describe one image of ``request`` (its first unless ``seed`` says which)."""
    return _text(request, [("Seed", str(request.seed if seed is None else seed))])


def grid_parameters_text(request: GenerationRequest) -> str:
    """Describe a grid: the first image's seed, and each image's under ``Grid seeds``."""
    seeds = request.seeds
    pairs = [("Seed", str(seeds[0]))]
    if len(seeds) > 1:
        pairs.append(("Grid seeds", ", ".join(str(seed) for seed in seeds)))
    return _text(request, pairs)


def _text(request: GenerationRequest, seeds: list[tuple[str, str]]) -> str:
    """Lay the request out as A1111 does: prompt, negative prompt, then the settings line."""
    pairs = [
        ("Steps", str(request.steps)),
        ("Sampler", request.sampler),
        ("CFG scale", f"{request.guidance:g}"),
        *seeds,
        ("Size", f"{request.width}x{request.height}"),
    ]
    if request.model:
        pairs.append(("Model", request.model))
    if request.strength is not None and request.init_image is not None:
        pairs.append(("Denoising strength", f"{request.strength:g}"))
    if request.tile:
        pairs.append(("Tiling", "True"))
    if request.fast:
        pairs.append(("Step cache", "True"))  # --fast
    if request.style:
        pairs.append(("Style", request.style))  # its text stays the server's
    if request.stop < 100:
        pairs.append(("Stop at", f"{request.stop}%"))
    if request.chaos:
        pairs.append(("Chaos", str(request.chaos)))
    if request.loras:
        weights = ", ".join(f"{use.name}: {use.weight:g}" for use in request.loras)
        pairs.append(("Lora weights", weights))
    if request.control_image is not None:
        pairs.append(("ControlNet", f"{request.control_mode}, weight {request.control_weight:g}"))
    if request.edit is not None:
        pairs.append(("Edit", request.edit.label))
    lines = [" ".join([request.prompt, *(use.tag() for use in request.loras)])]
    if request.negative_prompt:
        lines.append(f"Negative prompt: {request.negative_prompt}")
    lines.append(", ".join(f"{key}: {_value(value)}" for key, value in pairs))
    return "\n".join(lines)


def _value(value: str) -> str:
    """Quote a value holding a separator (``,`` or ``:``), so readers split the line right."""
    if any(mark in value for mark in ',:"'):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def png_info(text: str) -> PngImagePlugin.PngInfo:
    """Return the PNG text chunk carrying ``text``."""
    info = PngImagePlugin.PngInfo()
    if text.isascii():
        info.add_text(PNG_KEY, text)
    else:  # tEXt is Latin-1 only; iTXt holds UTF-8, and Pillow reads both into .info
        info.add_itxt(PNG_KEY, text)
    return info


def exif_comment(text: str) -> Image.Exif:
    """Return EXIF data whose UserComment holds ``text`` (for WebP and JPEG)."""
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = _UNICODE_MARK + text.encode("utf-16-be")
    return exif


def read_parameters(image: Image.Image) -> str | None:
    """Return the parameters an image carries, from its PNG chunk or its EXIF comment."""
    text = image.info.get(PNG_KEY)
    if isinstance(text, str):
        return text
    comment = image.getexif().get_ifd(EXIF_IFD).get(USER_COMMENT)
    if isinstance(comment, bytes) and comment.startswith(_UNICODE_MARK):
        return comment[len(_UNICODE_MARK) :].decode("utf-16-be")
    return None
