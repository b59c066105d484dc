"""Midjourney's ``--chaos 0–100``: how far the four images of a grid may stray from each other.

Seeds alone already make four different images; chaos makes them differ in *what* they show,
not only in detail. Each image's prompt embedding gets its own Gaussian noise, drawn from that
image's seed and scaled by the row's own spread times ``chaos / 100 × CHAOS_SCALE``, so every
image reads a slightly different prompt. It depends on nothing but the image's seed, its row
and its chaos, so an image is the same whatever it is batched with, and ``--chaos 0`` (the
default) leaves the embeddings untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from pipeline.families.base import Embeddings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipeline.request import GenerationRequest

# Noise spread, relative to a row's own, at --chaos 100. Measured on the built-in model (12
# images of "a red circle on a blue background"): below ~1.5 the images keep to the prompt as
# at chaos 0; at 2.5 three in four still do, and they show six different readings of colour
# and shape instead of two; above 3 almost none keep to the prompt.
CHAOS_SCALE = 2.5
_SALT = 0x43_48_41_4F  # keeps the noise apart from the latents drawn from the same seed


def scatter(embeddings: Embeddings, requests: Sequence[GenerationRequest]) -> Embeddings:
    """Return the embeddings (one row per image) with each image's chaos noise added."""
    if all(request.chaos == 0 for request in requests):
        return embeddings
    tokens = embeddings.tokens.clone()
    row = 0
    for request in requests:
        for seed in request.seeds:
            if request.chaos:
                generator = torch.Generator("cpu").manual_seed(seed ^ _SALT)
                noise = torch.randn(tuple(tokens.shape[1:]), generator=generator)
                spread = float(tokens[row].float().std())
                amount = spread * request.chaos / 100 * CHAOS_SCALE
                tokens[row] += (noise * amount).to(tokens.device, tokens.dtype)
            row += 1
    return Embeddings(tokens, embeddings.pooled)
