"""The generation engine: one loaded model and the operations Easel offers on it.

Every operation (txt2img, img2img, variation, upscale, reroll) is a :class:`GenerationRequest`
run through :meth:`Engine.generate_batch`, which can merge compatible requests into one
pipeline call and still give each image exactly the pixels it would get alone: every image has
its own seeded generator, and prompts are encoded per image.

An engine is not thread-safe: it swaps the scheduler and padding mode of shared modules per
call. The job queue gives each engine a single worker thread.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import torch

from pipeline.embeddings import PromptEncoder
from pipeline.errors import GenerationCanceled, ParameterError
from pipeline.images import make_grid, read_input_image
from pipeline.loading import LoadedModel, load_model
from pipeline.preview import LatentPreviewer
from pipeline.request import GenerationRequest, parse_request, random_seed, size_for_aspect
from pipeline.samplers import build_scheduler
from pipeline.tiling import seamless_tiling

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from PIL import Image

    from pipeline.config import GenerationSettings, InputImageSettings, PipelineConfig

VariationStrength = Literal["subtle", "strong"]


@dataclass(frozen=True)
class Progress:
    """Where a running generation is: step k of n, time so far, and optional previews."""

    step: int
    total_steps: int
    elapsed: float
    previews: tuple[Image.Image, ...] = ()

    @property
    def fraction(self) -> float:
        """Return the share of steps done, from 0 to 1."""
        return self.step / self.total_steps if self.total_steps else 1.0

    @property
    def eta(self) -> float | None:
        """Estimate the seconds left from the pace so far, or None before the first step."""
        if self.step == 0:
            return None
        return self.elapsed / self.step * (self.total_steps - self.step)


@dataclass(frozen=True)
class GenerationResult:
    """A request's images, in seed order, and how long the call took."""

    request: GenerationRequest
    images: list[Image.Image]
    duration: float
    flagged: tuple[bool, ...] = field(default=())

    @property
    def seeds(self) -> list[int]:
        """Return the seed of each image, in order."""
        return self.request.seeds

    def grid(self) -> Image.Image:
        """Compose the images into the 2×2 grid users see."""
        return make_grid(self.images)


class Engine:
    """Run generation requests on one loaded model."""

    def __init__(
        self,
        model: LoadedModel,
        settings: GenerationSettings,
        input_limits: InputImageSettings,
    ) -> None:
        self.model = model
        self.settings = settings
        self.input_limits = input_limits
        pipe = model.txt2img
        self._encoder = PromptEncoder(pipe.tokenizer, pipe.text_encoder, model.execution_device)
        self._previewer = LatentPreviewer(pipe.vae, model.execution_device, pipe.vae_scale_factor)
        self._scheduler_config = pipe.scheduler.config

    @classmethod
    def from_config(cls, config: PipelineConfig) -> Engine:
        """Load the configured model and build an engine around it."""
        model = load_model(config.model, config.model_cache_dir)
        return cls(model, config.generation, config.input_images)

    @property
    def native_size(self) -> tuple[int, int]:
        """Return the model's native (width, height); ``--ar`` sizes keep its pixel count."""
        return self.model.native_size

    # Building requests ---------------------------------------------------------------------

    def parse(
        self,
        text: str,
        *,
        negative_prompt: str = "",
        init_image: Path | None = None,
        seed: int | None = None,
    ) -> GenerationRequest:
        """Parse a prompt with inline parameters into a request, checking any image prompt."""
        init_size = read_input_image(init_image, self.input_limits).size if init_image else None
        return parse_request(
            text,
            settings=self.settings,
            native_size=self.native_size,
            negative_prompt=negative_prompt,
            init_image=init_image,
            init_size=init_size,
            seed_source=random_seed if seed is None else (lambda: seed),
        )

    def variation_request(
        self,
        source: GenerationRequest,
        image: Path,
        *,
        strength: VariationStrength | float = "subtle",
        seed: int | None = None,
    ) -> GenerationRequest:
        """Describe four variations of one image: img2img from it with the source's prompt."""
        if isinstance(strength, str):
            amount = (
                self.settings.variation_subtle
                if strength == "subtle"
                else self.settings.variation_strong
            )
        else:
            amount = strength
        width, height = (source.width, source.height)
        if source.operation == "upscale":
            native = self.native_size
            width, height = size_for_aspect(width / height, native[0] * native[1])
        return replace(
            source,
            width=width,
            height=height,
            seed=random_seed() if seed is None else seed,
            num_images=4,
            init_image=image,
            strength=amount,
            operation="variation",
        )

    def upscale_request(
        self, source: GenerationRequest, image: Path, *, seed: int | None = None
    ) -> GenerationRequest:
        """Describe a 2× upscale of one image: Lanczos, then a light img2img refinement."""
        width, height = source.width * 2, source.height * 2
        if width * height > self.settings.max_pixels:
            raise ParameterError(
                f"This image is already {source.width}×{source.height}; upscaling it to "
                f"{width}×{height} would exceed this server's limit of "
                f"{self.settings.max_pixels / 1e6:.1f} megapixels."
            )
        return replace(
            source,
            width=width,
            height=height,
            seed=source.seed if seed is None else seed,
            num_images=1,
            init_image=image,
            strength=self.settings.upscale_strength,
            operation="upscale",
        )

    @staticmethod
    def reroll_request(source: GenerationRequest, *, seed: int | None = None) -> GenerationRequest:
        """Describe the same request again with a new seed."""
        return source.with_seed(random_seed() if seed is None else seed)

    # Operations ----------------------------------------------------------------------------

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> GenerationResult:
        """Run one request (txt2img, or img2img when it has an init image)."""
        return self.generate_batch([request], progress=progress, cancel=cancel)[0]

    def variation(
        self,
        source: GenerationRequest,
        image: Path,
        *,
        strength: VariationStrength | float = "subtle",
        seed: int | None = None,
    ) -> GenerationResult:
        """Generate four variations of ``image``."""
        return self.generate(self.variation_request(source, image, strength=strength, seed=seed))

    def upscale(
        self, source: GenerationRequest, image: Path, *, seed: int | None = None
    ) -> GenerationResult:
        """Upscale ``image`` (made by ``source``) to twice its size."""
        return self.generate(self.upscale_request(source, image, seed=seed))

    def reroll(self, source: GenerationRequest, *, seed: int | None = None) -> GenerationResult:
        """Run ``source`` again with a new seed."""
        return self.generate(self.reroll_request(source, seed=seed))

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Run compatible requests in one pipeline call and split the images back per request.

        ``progress`` is called after every denoising step; ``cancel`` is asked after every
        step and, when it answers True, the call stops with :class:`GenerationCanceled`.
        """
        # 1. Check inputs
        first = check_batch(requests)
        started = time.perf_counter()
        if cancel is not None and cancel():
            raise GenerationCanceled

        # 2. Encode prompts, each distinct text once
        positive, negative = self._encode(requests)

        # 3. One generator per image, so image i is the same whatever it is batched with
        generators = [torch.Generator("cpu").manual_seed(s) for r in requests for s in r.seeds]

        # 4. Prepare the pipeline call
        arguments: dict[str, Any] = {
            "prompt_embeds": positive,
            "negative_prompt_embeds": negative,
            "guidance_scale": first.guidance,
            "generator": generators,
            "num_inference_steps": first.steps,
            "output_type": "pil",
            "callback_on_step_end": self._step_callback(first, started, progress, cancel),
        }
        if first.init_image is None:
            pipe: Any = self.model.txt2img
            arguments.update(height=first.height, width=first.width)
        else:
            pipe = self.model.img2img
            strength = first.strength or self.settings.strength
            arguments.update(
                image=self._init_images(requests),
                strength=strength,
                # At least one denoising step must remain after img2img skips the early ones.
                num_inference_steps=max(first.steps, math.ceil(1 / strength)),
            )
        pipe.scheduler = build_scheduler(first.sampler, self._scheduler_config)

        # 5. Denoise and decode
        modules = [pipe.unet, pipe.vae]
        with seamless_tiling(modules, enabled=first.tile), self._vae_tiling(first):
            output = pipe(**arguments)

        # 6. Split the images back per request
        return _split_per_request(requests, output, time.perf_counter() - started)

    def _encode(self, requests: Sequence[GenerationRequest]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return positive and negative embeddings, one row per image, padded to one length."""
        positives = [r.prompt for r in requests for _ in range(r.num_images)]
        negatives = [r.negative_prompt for r in requests for _ in range(r.num_images)]
        distinct = list(dict.fromkeys(positives + negatives))
        encoded = self._encoder.encode(distinct).to(self.model.dtype)
        row = {text: index for index, text in enumerate(distinct)}
        positive = encoded[[row[text] for text in positives]]
        negative = encoded[[row[text] for text in negatives]]
        return positive, negative

    def _init_images(self, requests: Sequence[GenerationRequest]) -> list[Image.Image]:
        """Load each request's init image once and resize it to the output size (Lanczos)."""
        from PIL import Image  # noqa: PLC0415 - only img2img needs the resampling enum

        images: list[Image.Image] = []
        for request in requests:
            assert request.init_image is not None  # check_batch guarantees it
            source = read_input_image(request.init_image, self.input_limits)
            resized = source.resize((request.width, request.height), Image.Resampling.LANCZOS)
            images.extend([resized] * request.num_images)
        return images

    def _step_callback(
        self,
        request: GenerationRequest,
        started: float,
        progress: Callable[[Progress], None] | None,
        cancel: Callable[[], bool] | None,
    ) -> Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]:
        """Build diffusers' step-end hook: report progress, make previews, honour cancel."""
        every = self.settings.preview_every
        size = (request.width, request.height)

        def on_step_end(
            pipe: Any, index: int, _timestep: Any, tensors: dict[str, Any]
        ) -> dict[str, Any]:
            if cancel is not None and cancel():
                raise GenerationCanceled
            if progress is not None:
                step, total = index + 1, int(pipe.num_timesteps)
                wants_preview = every > 0 and step % every == 0 and step < total
                previews = self._previewer.images(tensors["latents"], size) if wants_preview else []
                elapsed = time.perf_counter() - started
                progress(Progress(step, total, elapsed, tuple(previews)))
            return {}

        return on_step_end

    @contextmanager
    def _vae_tiling(self, request: GenerationRequest) -> Iterator[None]:
        """Decode large images in tiles so an upscale fits in memory, then switch back."""
        vae = self.model.txt2img.vae
        if request.pixels <= self.settings.upscale_tiling_above_pixels or vae.use_tiling:
            yield
            return
        vae.enable_tiling()
        try:
            yield
        finally:
            vae.disable_tiling()


def _split_per_request(
    requests: Sequence[GenerationRequest], output: Any, duration: float
) -> list[GenerationResult]:
    """Give each request its images from one pipeline output, and the safety checker's flags."""
    flags = output.nsfw_content_detected or [False] * len(output.images)
    results: list[GenerationResult] = []
    offset = 0
    for request in requests:
        images = output.images[offset : offset + request.num_images]
        flagged = tuple(bool(f) for f in flags[offset : offset + request.num_images])
        results.append(GenerationResult(request, list(images), duration, flagged))
        offset += request.num_images
    return results


def batch_key(request: GenerationRequest) -> tuple[object, ...]:
    """Return what requests must share to run in one pipeline call."""
    return (
        request.width,
        request.height,
        request.steps,
        request.guidance,
        request.sampler,
        request.init_image is None,
        request.strength,
        request.tile,
    )


def check_batch(requests: Sequence[GenerationRequest]) -> GenerationRequest:
    """Refuse an empty or mixed batch; return its first request, which speaks for all."""
    if not requests:
        raise ValueError("a batch needs at least one request")
    keys = {batch_key(request) for request in requests}
    if len(keys) > 1:
        raise ValueError(f"requests differ in size, steps or sampler and cannot batch: {keys}")
    return requests[0]
