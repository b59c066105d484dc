"""Enlarge images for upscales with a super-resolution model, or with Lanczos without one.

The model is a file an owner downloaded (``.pth`` or ``.safetensors``) of the ESRGAN family:
ESRGAN, BSRGAN, Real-ESRGAN (its 2× pixel-unshuffle model included), 4x-UltraSharp and the
community models trained from them, saved in the Real-ESRGAN/BasicSR, the old ESRGAN or the
original sequential key layout. :mod:`pipeline.esrgan` holds the network and reads the
layouts; its sizes and its scale come from the weights. It is Easel's own rather than
spandrel's because spandrel requires torchvision, and the registry has no CPU build of
torchvision for the torch Easel runs on. Any other file (a LoRA, another architecture, a
broken download, a 1× restoration model that would not enlarge) is refused when loaded, with
the file named, rather than at the first upscale.

The model runs on tiles of at most :data:`TILE_SIZE` pixels a side, so its memory stays
bounded whatever the image's size. Each tile is run with :data:`TILE_OVERLAP` pixels of its
neighbours around it and only its own part of the output is kept: the pixels either side of a
seam are computed with the context they would have had untiled, so no seam shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pipeline.errors import ModelLoadError
from pipeline.esrgan import RRDBNet, RrdbShape, UnknownWeightsError, load_esrgan, read_weights

TILE_SIZE = 256
"""The side, in input pixels, of the square the model enlarges at once."""
TILE_OVERLAP = 16
"""Input pixels of context run around each tile and cropped from its output."""
EXPECTED = "expected an ESRGAN-family super-resolution model (.pth or .safetensors)"
"""What every refusal says the file should have been."""


@dataclass(frozen=True)
class PixelBox:
    """Rows ``top:bottom`` and columns ``left:right`` of an image."""

    top: int
    left: int
    bottom: int
    right: int

    def grown(self, margin: int, height: int, width: int) -> PixelBox:
        """Return the box with ``margin`` pixels more on each side, clipped to the image."""
        return PixelBox(
            max(0, self.top - margin),
            max(0, self.left - margin),
            min(height, self.bottom + margin),
            min(width, self.right + margin),
        )

    def scaled(self, factor: int, origin: PixelBox | None = None) -> tuple[slice, slice]:
        """Return the row and column slices of the box ``factor`` times larger.

        With ``origin``, the slices are relative to that box's corner (a tile's place in the
        output of the grown tile it was cut from).
        """
        top, left = (origin.top, origin.left) if origin is not None else (0, 0)
        rows = slice((self.top - top) * factor, (self.bottom - top) * factor)
        return rows, slice((self.left - left) * factor, (self.right - left) * factor)


def tiles(height: int, width: int, size: int) -> list[PixelBox]:
    """Cut an image into boxes of at most ``size`` pixels a side, row by row."""
    return [
        PixelBox(top, left, min(top + size, height), min(left + size, width))
        for top in range(0, height, size)
        for left in range(0, width, size)
    ]


class SuperResolution:
    """A loaded super-resolution model that enlarges images in overlapping tiles."""

    def __init__(
        self, network: RRDBNet, *, tile: int = TILE_SIZE, overlap: int = TILE_OVERLAP
    ) -> None:
        self._network = network
        parameter = next(network.parameters())
        self._device, self._dtype = parameter.device, parameter.dtype
        # A tile must start where the whole image's unshuffle grid does, or its pixels would
        # be folded with other neighbours than untiled: round both up to the unshuffle factor.
        factor = network.shape.unshuffle
        self._tile, self._overlap = -(-tile // factor) * factor, -(-overlap // factor) * factor

    @classmethod
    def load(
        cls,
        path: Path | str,
        device: torch.device,
        dtype: torch.dtype,
        *,
        tile: int = TILE_SIZE,
        overlap: int = TILE_OVERLAP,
    ) -> SuperResolution:
        """Read the super-resolution model at ``path`` onto ``device`` in ``dtype``.

        Raises :class:`ModelLoadError`, naming the file and what was expected, when it is
        missing, unreadable, or not an ESRGAN-family model that enlarges RGB images.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelLoadError(f"upscaler: {path} does not exist or is not a file; {EXPECTED}.")
        try:
            network = load_esrgan(read_weights(path))
        except UnknownWeightsError as error:
            raise ModelLoadError(
                f"upscaler: {path} could not be used: {error}; {EXPECTED}."
            ) from error
        except Exception as error:  # a truncated download, a refused pickle, not safetensors
            raise ModelLoadError(
                f"upscaler: {path} could not be read ({_first_line(error)}); {EXPECTED}."
            ) from error
        _check_enlarges_rgb(network.shape, path)
        return cls(network.to(device, dtype), tile=tile, overlap=overlap)

    @property
    def scale(self) -> int:
        """Return how many times larger, each side, one run of the model makes an image."""
        return self._network.shape.scale

    def enlarge(self, image: Image.Image, size: tuple[int, int]) -> Image.Image:
        """Enlarge ``image`` to exactly ``size`` (width, height) in RGB: the model, then Lanczos.

        The model runs again while the image is smaller than ``size`` (a 2× model asked for 4×
        runs twice), so Lanczos only ever shrinks, which keeps the detail the model drew.
        """
        width, height = size
        if width < 1 or height < 1:
            raise ValueError(f"cannot enlarge to {width}×{height}")
        enlarged = image.convert("RGB")
        while enlarged.width < width or enlarged.height < height:
            enlarged = self._run(enlarged)
        return enlarged.resize(size, Image.Resampling.LANCZOS)

    @torch.inference_mode()
    def _run(self, image: Image.Image) -> Image.Image:
        """Enlarge ``image`` by the model's scale once, one tile (and its margin) at a time."""
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
        pixels = pixels.permute(2, 0, 1).unsqueeze(0)  # the network takes (1, 3, H, W) in [0, 1]
        height, width, factor = image.height, image.width, self.scale
        # Kept in bytes on the CPU: the model's device only ever holds one tile.
        output = torch.empty((height * factor, width * factor, 3), dtype=torch.uint8)
        for box in tiles(height, width, self._tile):
            grown = box.grown(self._overlap, height, width)
            rows, columns = grown.scaled(1)
            piece = pixels[:, :, rows, columns].to(self._device, self._dtype)
            result = self._network(piece)[0].permute(1, 2, 0).float().clamp(0, 1)
            result = result.mul(255).round().byte().cpu()  # clamped: a byte would wrap
            inner_rows, inner_columns = box.scaled(factor, origin=grown)
            output[box.scaled(factor)] = result[inner_rows, inner_columns]
        return Image.fromarray(output.numpy(), "RGB")


def enlarge_to(
    image: Image.Image, size: tuple[int, int], upscaler: SuperResolution | None
) -> Image.Image:
    """Enlarge ``image`` to exactly ``size`` in RGB: with ``upscaler`` if given, else Lanczos."""
    if upscaler is not None:
        return upscaler.enlarge(image, size)
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def _check_enlarges_rgb(shape: RrdbShape, path: Path) -> None:
    """Refuse a model that does not enlarge, or whose images are not RGB."""
    if shape.scale < 2:
        raise ModelLoadError(
            f"upscaler: {path} does not enlarge (its scale is {shape.scale}×): it is a "
            f"restoration model, not an image super-resolution one; {EXPECTED}, 2× or more."
        )
    if shape.image_channels != 3 or shape.out_channels != 3:
        raise ModelLoadError(
            f"upscaler: {path} takes {shape.image_channels}-channel images and gives "
            f"{shape.out_channels}-channel ones; {EXPECTED} for RGB images (3 channels)."
        )


def _first_line(error: Exception) -> str:
    """Say why a file could not be read in one sentence: torch's refusals run to paragraphs."""
    lines = str(error).strip().splitlines()
    if not lines:
        return type(error).__name__
    return f"{type(error).__name__}: {lines[0].split('. ')[0].rstrip('.')}"
