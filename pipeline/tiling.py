"""Seamless tiling (``--tile``): make every convolution wrap around the image's edges.

With circular padding the UNet and the VAE decoder see the left edge next to the right one and
the top next to the bottom, so the image they produce repeats without a visible seam. The
change is undone after the call, because tiled and untiled jobs share the same modules.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def seamless_tiling(modules: list[nn.Module], *, enabled: bool) -> Iterator[None]:
    """Switch every Conv2d in ``modules`` to circular padding for the duration of the block."""
    if not enabled:
        yield
        return
    convolutions = [
        layer for module in modules for layer in module.modules() if isinstance(layer, nn.Conv2d)
    ]
    previous = [conv.padding_mode for conv in convolutions]
    for conv in convolutions:
        conv.padding_mode = "circular"
    try:
        yield
    finally:
        for conv, mode in zip(convolutions, previous, strict=True):
            conv.padding_mode = mode
