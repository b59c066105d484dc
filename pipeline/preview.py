"""Cheap previews of a generation in progress, without running the VAE decoder.

A latent pixel maps to an RGB colour almost linearly, so a least-squares fit of that map,
made once per model from one VAE encoding of a colourful test pattern, turns the latents of
any step into a small picture in microseconds. The fit works for any VAE, including the small
default model's, where published SD 1.5 coefficients would be wrong.

Copying latents to the CPU waits for the GPU to finish the step, so the copy and the colour map
run on a thread of their own (:class:`PreviewLane`): the step thread only queues a copy of the
latents on the device and goes on launching the next step's work.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import torch
from PIL import Image

if TYPE_CHECKING:
    from collections.abc import Callable

    from diffusers import AutoencoderKL

    # Turns a pipeline's step latents into (batch, channels, height, width) for a given size.
    Unpack = Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]

_PATTERN_CELLS = 8


class LatentPreviewer:
    """Turn latents into small RGB previews with a per-model linear colour map."""

    def __init__(
        self,
        vae: AutoencoderKL,
        device: torch.device,
        scale_factor: int,
        *,
        unpack: Unpack | None = None,
    ) -> None:
        """Preview ``vae``'s latents; ``unpack`` reshapes packed latents (FLUX's 2×2 patches)."""
        self._vae = vae
        self._device = device
        self._scale_factor = scale_factor
        self._unpack = unpack
        self._weights: torch.Tensor | None = None

    def prepare(self) -> None:
        """Fit the colour map now (one VAE encoding), on the thread that owns the model."""
        if self._weights is None:
            self._fit()

    def images(self, latents: torch.Tensor, size: tuple[int, int]) -> list[Image.Image]:
        """Return one preview per latent in the batch, resized to ``size`` (width, height)."""
        weights = self._fit() if self._weights is None else self._weights
        if self._unpack is not None:
            latents = self._unpack(latents, size)
        batch = latents.detach().to("cpu", torch.float32)
        flat = batch.permute(0, 2, 3, 1)  # B, H, W, C
        ones = torch.ones(*flat.shape[:-1], 1)
        rgb = torch.cat([flat, ones], dim=-1) @ weights
        pixels = (rgb.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        return [Image.fromarray(p, "RGB").resize(size, Image.Resampling.BILINEAR) for p in pixels]

    @torch.no_grad()
    def _fit(self) -> torch.Tensor:
        """Fit latent -> RGB on a random pattern of flat colour cells encoded by the VAE."""
        generator = torch.Generator().manual_seed(0)
        side = _PATTERN_CELLS * self._scale_factor * 4
        cells = torch.rand(1, 3, _PATTERN_CELLS, _PATTERN_CELLS, generator=generator)
        image = torch.nn.functional.interpolate(cells, size=(side, side), mode="nearest")
        vae_param = next(self._vae.parameters())
        encoded = self._vae.encode(
            (image * 2 - 1).to(self._device, vae_param.dtype)
        ).latent_dist.mean
        shift = getattr(self._vae.config, "shift_factor", None) or 0.0
        scaled = (encoded.float().cpu() - shift) * self._vae.config.scaling_factor
        latents = scaled.permute(0, 2, 3, 1)
        target = torch.nn.functional.avg_pool2d(image, self._scale_factor).permute(0, 2, 3, 1)
        inputs = torch.cat([latents, torch.ones(*latents.shape[:-1], 1)], dim=-1)
        solution = torch.linalg.lstsq(inputs.reshape(-1, inputs.shape[-1]), target.reshape(-1, 3))
        self._weights = solution.solution
        return self._weights


class PreviewLane:
    """Make one generation's previews off the step thread; each comes with the next step.

    A preview of step *k* is handed over with the progress of step *k + 1*, so where it shows
    up does not depend on timing, and a step waits only if making a preview took longer than a
    whole step (a few milliseconds of work against a step's own).
    """

    def __init__(self, previewer: LatentPreviewer, executor: ThreadPoolExecutor) -> None:
        self._previewer = previewer
        self._executor = executor
        self._pending: Future[list[Image.Image]] | None = None

    def submit(self, latents: torch.Tensor, size: tuple[int, int]) -> None:
        """Start the previews of this step's ``latents`` (a device-side copy is all it waits)."""
        self._previewer.prepare()
        snapshot = latents.detach().clone()  # the pipeline may reuse its buffers next step
        self._pending = self._executor.submit(self._previewer.images, snapshot, size)

    def take(self) -> tuple[Image.Image, ...]:
        """Return the previews started at the previous step, or none if none were."""
        pending, self._pending = self._pending, None
        return () if pending is None else tuple(pending.result())


def preview_thread() -> ThreadPoolExecutor:
    """Return the single thread an engine makes its previews on."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="easel-preview")
