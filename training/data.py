"""Batches of rendered scenes and their captions, as tensors ready for training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from training.captions import caption
from training.scenes import Scene, random_scene, render

if TYPE_CHECKING:
    import random

# Sizes trained besides the native 64×64, so --ar and 2× upscales stay one coherent shape.
# Each keeps the batch's pixel count near that of a native batch.
EXTRA_SIZES: tuple[tuple[int, int], ...] = (
    (96, 64),
    (64, 96),
    (80, 48),
    (48, 80),
    (96, 96),
    (128, 128),
)


@dataclass(frozen=True)
class Batch:
    """Images in [-1, 1] (N, 3, H, W), their scenes and one caption each."""

    images: torch.Tensor
    scenes: list[Scene]
    captions: list[str]


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """Stack HWC uint8 arrays into an NCHW float tensor in [-1, 1]."""
    array = np.stack(images).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def pick_size(rng: random.Random, batch_size: int, extra_share: float) -> tuple[int, int, int]:
    """Return (width, height, batch size): mostly native, sometimes another size."""
    if rng.random() >= extra_share:
        return 64, 64, batch_size
    width, height = rng.choice(EXTRA_SIZES)
    scaled = max(4, round(batch_size * 64 * 64 / (width * height)))
    return width, height, scaled


def make_batch(
    rng: random.Random,
    excluded: frozenset[tuple[str, str, str]],
    batch_size: int,
    extra_share: float = 0.25,
) -> Batch:
    """Render a random batch that never contains an ``excluded`` combination."""
    width, height, count = pick_size(rng, batch_size, extra_share)
    scenes = [random_scene(rng, excluded) for _ in range(count)]
    images = [np.asarray(render(scene, width, height)) for scene in scenes]
    return Batch(to_tensor(images), scenes, [caption(scene, rng) for scene in scenes])
