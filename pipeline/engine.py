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
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import torch

from pipeline.batching import batch_key, check_batch, split_per_request
from pipeline.chaos import scatter
from pipeline.compiled import COMPILE_CACHE, CompiledDenoiser, choose_denoiser
from pipeline.config import model_label
from pipeline.control import ControlNets
from pipeline.errors import GenerationCanceled
from pipeline.image_inputs import EditInputs, edits_of, init_images
from pipeline.loading import LoadedModel, load_model
from pipeline.lora_adapters import LoraAdapters
from pipeline.loras import LoraCatalog
from pipeline.models import ModelCatalog, ModelProfile, profile_of
from pipeline.preview import PreviewLane, preview_thread
from pipeline.request_builder import RequestBuilder, VariationStrength
from pipeline.results import GenerationResult, Progress
from pipeline.samplers import build_scheduler
from pipeline.super_resolution import SuperResolution
from pipeline.tiling import seamless_tiling

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from pathlib import Path

    from pipeline.config import GenerationSettings, InputImageSettings, ModelEntry, PipelineConfig
    from pipeline.families.base import Embeddings
    from pipeline.request import GenerationRequest

__all__ = ["Engine", "GenerationResult", "Progress", "VariationStrength", "batch_key"]


class Engine:
    """Run generation requests on one loaded model, of any family."""

    def __init__(
        self,
        model: LoadedModel,
        settings: GenerationSettings,
        input_limits: InputImageSettings,
        *,
        profile: ModelProfile | None = None,
        loras: LoraCatalog | None = None,
        upscaler: SuperResolution | None = None,
        controlnets: Mapping[str, str] | None = None,
        depth_model: str | None = None,
        compiled: CompiledDenoiser | None = None,
    ) -> None:
        """Wrap ``model``; ``profile`` names it and holds its defaults (else read from it).

        ``upscaler`` enlarges the image of every upscale before it is refined (else Lanczos);
        ``controlnets`` maps a control mode to the ControlNet that guides it, and
        ``depth_model`` makes depth maps for a depth ControlNet.
        """
        self.model = model
        self.upscaler = upscaler
        self.controlnets = ControlNets(model, controlnets or {}, depth_model)
        self.compiled = compiled  # compile: true, and which shape buckets are warm
        self.settings = settings
        self.input_limits = input_limits
        self.profile = profile or profile_of(model_label(model.name), model.traits, None, settings)
        self.requests = RequestBuilder(
            ModelCatalog([self.profile], self.profile.name), settings, input_limits, loras=loras
        )
        pipe = model.txt2img
        self.loras = LoraAdapters(pipe, loras, self.profile.name)
        self._family = model.family
        self._encoder = model.family.encoder(pipe, model.execution_device)
        self._previewer = model.family.previewer(pipe, model.execution_device)
        self._preview_thread = preview_thread()
        self._scheduler_config = pipe.scheduler.config

    @classmethod
    def from_config(
        cls,
        config: PipelineConfig,
        entry: ModelEntry | None = None,
        *,
        loras: LoraCatalog | None = None,
    ) -> Engine:
        """Load a configured model (the default one unless ``entry`` says) into an engine.

        ``loras`` is the server's LoRA catalog, shared by every engine; else one is made.
        """
        entry = entry or config.default_model
        model = load_model(entry, config.cache_dir_for(entry))
        profile = profile_of(entry.label, model.traits, entry, config.generation)
        catalog = loras or LoraCatalog(config.lora_dirs)
        upscaler = (
            SuperResolution.load(config.upscaler, model.device, model.dtype)
            if config.upscaler
            else None
        )
        return cls(
            model,
            config.generation,
            config.input_images,
            profile=profile,
            loras=catalog,
            upscaler=upscaler,
            controlnets=entry.controlnets,
            depth_model=config.control.depth_model,
            compiled=CompiledDenoiser(model, entry.compiled, config.data_dir / COMPILE_CACHE)
            if entry.compile
            else None,
        )

    @property
    def name(self) -> str:
        """Return the model's configured name."""
        return self.profile.name

    @property
    def native_size(self) -> tuple[int, int]:
        """Return the model's native (width, height); ``--ar`` sizes keep its pixel count."""
        return self.model.native_size

    # Building requests (see RequestBuilder) ------------------------------------------------

    def parse(
        self,
        text: str,
        *,
        negative_prompt: str = "",
        init_image: Path | None = None,
        control_image: Path | None = None,
        seed: int | None = None,
    ) -> GenerationRequest:
        """Parse a prompt with inline parameters into a request for this model."""
        return self.requests.parse(
            text,
            negative_prompt=negative_prompt,
            init_image=init_image,
            control_image=control_image,
            seed=seed,
        )

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
        groups = self._length_groups(requests)
        if len(groups) > 1:
            return self._generate_groups(requests, groups, progress, cancel, started)

        # 2. Pad to a warm compiled bucket; switch to this call's LoRAs, then encode each
        # distinct prompt once; add --chaos
        asked = len(requests)
        requests = self.compiled.padded(requests) if self.compiled else list(requests)
        self._activate_loras(first)
        positive, negative = self._encode(requests)
        positive = scatter(positive, requests)

        # 3. One generator per image, so image i is the same whatever it is batched with
        generators = [torch.Generator("cpu").manual_seed(s) for r in requests for s in r.seeds]

        # 4. Prepare the pipeline call
        arguments: dict[str, Any] = {
            **self._family.call_arguments(positive, negative, first.guidance),
            "generator": generators,
            "num_inference_steps": first.steps,
            "output_type": "pil",
            "callback_on_step_end": self._step_callback(first, started, progress, cancel),
        }
        pipe, edits = self._pipe_for(requests, arguments)
        pipe.scheduler = build_scheduler(first.sampler, self._scheduler_config)

        # 5. Denoise and decode
        modules = [self._family.denoiser(pipe), pipe.vae]
        compiled = choose_denoiser(self.compiled, pipe, requests)
        fast = self._family.step_cache(pipe, self.settings) if first.fast else nullcontext()
        with seamless_tiling(modules, enabled=first.tile), self._vae_tiling(first), compiled, fast:
            output = pipe(**arguments)

        # 6. Split the images back per request (padding dropped); an edit's kept pixels go back
        results = split_per_request(requests, output, time.perf_counter() - started)
        return (results if edits is None else edits.finish(results))[:asked]

    def _activate_loras(self, first: GenerationRequest) -> None:
        """Switch to the batch's LoRAs (on a compiled model, between two bucket compiles)."""
        if self.compiled is None:
            self.loras.activate(first.loras)
        else:
            activate = partial(self.loras.activate, first.loras)
            self.compiled.activate_loras(activate, any_used=bool(first.loras))

    def _pipe_for(
        self, requests: Sequence[GenerationRequest], arguments: dict[str, Any]
    ) -> tuple[Any, EditInputs | None]:
        """Choose the pipeline (txt2img, img2img or inpainting) and add its image inputs."""
        first = requests[0]
        size = {"height": first.height, "width": first.width}
        if first.control_image is not None:
            arguments.update(size, controlnet_conditioning_scale=first.control_weight)
            arguments[self._family.control_argument] = self.controlnets.inputs(
                requests, self.input_limits
            )
            return self.controlnets.pipeline(first.control_mode), None
        if first.init_image is None:
            arguments.update(size)
            return self.model.txt2img, None
        strength = first.strength or self.settings.strength
        # At least one denoising step must remain after img2img skips the early ones.
        arguments["num_inference_steps"] = max(first.steps, math.ceil(1 / strength))
        arguments["strength"] = strength
        if first.edit is not None:
            edits = edits_of(requests, self.input_limits)
            arguments.update(size, image=edits.images, mask_image=edits.masks)
            return self.model.inpaint, edits
        arguments["image"] = init_images(requests, self.input_limits, self.upscaler)
        if self._family.img2img_needs_size:
            arguments.update(size)
        return self.model.img2img, None

    def _length_groups(self, requests: Sequence[GenerationRequest]) -> list[list[int]]:
        """Group the requests (by index) by how many token states their prompts encode to.

        A prompt padded to a longer prompt's length draws differently (the denoiser attends to
        the padding), so requests whose prompts encode to different lengths alone, such as one
        beyond 77 CLIP tokens and a short one, must not share a pipeline call.
        """
        if len(requests) == 1:
            return [[0]]
        lengths: dict[str, int] = {}
        groups: dict[int, list[int]] = {}
        for index, request in enumerate(requests):
            texts = [request.drawn_prompt]
            if self._family.negative_prompts:
                texts.append(request.drawn_negative)
            for text in texts:
                if text not in lengths:
                    lengths[text] = int(self._encoder.encode([text]).tokens.shape[1])
            groups.setdefault(max(lengths[text] for text in texts), []).append(index)
        return list(groups.values())

    def _generate_groups(
        self,
        requests: Sequence[GenerationRequest],
        groups: list[list[int]],
        progress: Callable[[Progress], None] | None,
        cancel: Callable[[], bool] | None,
        started: float,
    ) -> list[GenerationResult]:
        """Run each group of equal prompt lengths in its own call, one after the other.

        Progress counts the steps of every call together. Previews are left out: each call
        previews only its own images, which would not line up with the batch's requests.
        """
        results: dict[int, GenerationResult] = {}
        for part, indices in enumerate(groups):

            def report(event: Progress, part: int = part) -> None:
                assert progress is not None
                total = event.total_steps
                progress(
                    replace(
                        event,
                        step=part * total + event.step,
                        total_steps=len(groups) * total,
                        elapsed=time.perf_counter() - started,
                        previews=(),
                    )
                )

            done = self.generate_batch(
                [requests[index] for index in indices],
                progress=None if progress is None else report,
                cancel=cancel,
            )
            results.update(zip(indices, done, strict=True))
        duration = time.perf_counter() - started
        return [replace(results[index], duration=duration) for index in range(len(requests))]

    def _encode(self, requests: Sequence[GenerationRequest]) -> tuple[Embeddings, Embeddings]:
        """Return positive and negative embeddings, one row per image, padded to one length.

        A family without negative prompts gets the positive ones back in their place.
        """
        positives = [r.drawn_prompt for r in requests for _ in range(r.num_images)]
        negatives = (
            [r.drawn_negative for r in requests for _ in range(r.num_images)]
            if self._family.negative_prompts
            else []
        )
        distinct = list(dict.fromkeys(positives + negatives))
        encoded = self._encoder.encode(distinct).to(self.model.dtype)
        row = {text: index for index, text in enumerate(distinct)}
        positive = encoded.rows([row[text] for text in positives])
        negative = encoded.rows([row[text] for text in negatives]) if negatives else positive
        return positive, negative

    def _step_callback(
        self,
        request: GenerationRequest,
        started: float,
        progress: Callable[[Progress], None] | None,
        cancel: Callable[[], bool] | None,
    ) -> Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]:
        """Build diffusers' step-end hook: report progress, start previews, honour cancel.

        The previews of step *k* are made on the preview thread and come with step *k + 1*.
        """
        every = self.settings.preview_every
        size = (request.width, request.height)
        lane = PreviewLane(self._previewer, self._preview_thread)

        def on_step_end(
            pipe: Any, index: int, _timestep: Any, tensors: dict[str, Any]
        ) -> dict[str, Any]:
            if cancel is not None and cancel():
                raise GenerationCanceled
            # --stop: diffusers skips the remaining steps once interrupted, then decodes.
            step, total = index + 1, math.ceil(int(pipe.num_timesteps) * request.stop / 100)
            if step >= total:
                pipe._interrupt = True
            if progress is not None:
                previews = lane.take()
                if every > 0 and step % every == 0 and step < total:
                    lane.submit(tensors["latents"], size)
                elapsed = time.perf_counter() - started
                progress(Progress(step, total, elapsed, previews))
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
