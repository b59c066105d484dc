"""Shape buckets: the few (size, batch) shapes a compiled denoiser is captured for.

A compiled, graph-captured denoiser is fast only for shapes it has seen: each new width,
height or batch is a fresh compile (minutes for a large model) and another CUDA graph. So on
a model with ``compile: true`` every ``--ar`` is drawn at the nearest ratio of a fixed menu
(``compile.aspect_menu``, each at the model's pixel count), and each batch is padded up to the
next of ``compile.batch_sizes`` with images that are drawn and thrown away.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from pipeline.config_paths import Section

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_RATIO = re.compile(r"^[1-9]\d{0,2}:[1-9]\d{0,2}$")
_WARM = re.compile(r"^([1-9]\d{0,2}:[1-9]\d{0,2})x([1-9]\d{0,2})$")
DEFAULT_MENU = ("1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16")
CompileMode = Literal[
    "auto", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"
]


class CompileSettings(Section):
    """How a model with ``compile: true`` is compiled, and for which shapes."""

    # auto: reduce-overhead (CUDA graphs) on CUDA, inductor's default elsewhere.
    mode: CompileMode = "auto"
    vae: bool = False  # compile the VAE decoder too (neutral on the CPU at 64²; try on a GPU)
    # One matmul for each attention's q, k and v (undone when the first LoRA loads).
    fuse_qkv: bool = True
    aspect_menu: tuple[str, ...] = Field(default=DEFAULT_MENU, min_length=1, max_length=32)
    batch_sizes: tuple[int, ...] = Field(default=(1, 2, 4, 8), min_length=1, max_length=16)
    # Buckets compiled in the background at start-up, as RATIOxIMAGES: a grid, an upscale.
    warm_up: tuple[str, ...] = Field(default=("1:1x4", "1:1x1"), max_length=64)

    @field_validator("aspect_menu")
    @classmethod
    def _check_menu(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [entry for entry in value if not _RATIO.match(entry)]
        if bad:
            raise ValueError(f"aspect_menu entries are W:H ratios like 16:9 (got {bad[0]!r})")
        return value

    @field_validator("batch_sizes")
    @classmethod
    def _check_sizes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(size < 1 or size > 256 for size in value):
            raise ValueError("batch_sizes are images per call, from 1 to 256")
        return tuple(sorted(set(value)))

    @field_validator("warm_up")
    @classmethod
    def _check_warm_up(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [entry for entry in value if not _WARM.match(entry)]
        if bad:
            raise ValueError(f"warm_up entries are RATIOxIMAGES like 1:1x4 (got {bad[0]!r})")
        return value

    def warm_buckets(self, size_for: Callable[[float], tuple[int, int]]) -> list[Bucket]:
        """Return the buckets to compile at start-up; ``size_for`` sizes a ratio for the model."""
        buckets = []
        for entry in self.warm_up:
            match = _WARM.match(entry)
            assert match is not None  # validated
            width, height = size_for(ratio_of(match.group(1)))
            images = padded_images(int(match.group(2)), self.batch_sizes)
            buckets.append(Bucket(width, height, images))
        return sorted(set(buckets), key=buckets.index)


@dataclass(frozen=True, order=True)
class Bucket:
    """One shape the denoiser is compiled for: the image size and the images per call."""

    width: int
    height: int
    images: int

    def __str__(self) -> str:
        return f"{self.width}×{self.height}×{self.images}"


def ratio_of(text: str) -> float:
    """Read a menu entry ``W:H`` as width over height."""
    width, _, height = text.partition(":")
    return int(width) / int(height)


def nearest_ratio(ratio: float, menu: Sequence[str]) -> float:
    """Return the menu's ratio closest to ``ratio`` (compared on a log scale: 2:1 ~ 1:2)."""
    return min((ratio_of(entry) for entry in menu), key=lambda r: abs(math.log(r / ratio)))


def padded_images(images: int, batch_sizes: Sequence[int]) -> int:
    """Return the batch size a call of ``images`` images is padded to (itself past the menu)."""
    return next((size for size in sorted(batch_sizes) if size >= images), images)
