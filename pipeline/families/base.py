"""The seam every model family implements: how to load it, encode prompts, and call it.

A family (``sd``, ``sdxl``, ``flux``) knows what differs between architectures and nothing
else: which diffusers pipeline loads it, how prompts become embeddings, what its defaults and
samplers are, how to preview its latents, and what it cannot do. The engine runs every
operation through this seam, so an operation written once works on every family, and a new
family is one new module.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pipeline.errors import ModelLoadError, ParameterError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager

    import torch
    from torch import nn

    from pipeline.config import GenerationSettings, ModelSettings
    from pipeline.preview import LatentPreviewer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelTraits:
    """What a model's files say about it, read before (and without) loading the weights."""

    family: str
    native_size: tuple[int, int]
    guidance_embedded: bool = False  # FLUX.1-dev-like: guidance is an input, not CFG
    weights_bytes: int = 0


@dataclass(frozen=True)
class ModelDefaults:
    """What a prompt gets when it does not say: steps, guidance and sampler."""

    steps: int
    guidance: float
    sampler: str


@dataclass(frozen=True)
class Embeddings:
    """Prompt embeddings, one row per prompt; ``pooled`` for families that read it too."""

    tokens: torch.Tensor
    pooled: torch.Tensor | None = None

    def rows(self, indices: Sequence[int]) -> Embeddings:
        """Pick rows (one per image), keeping the pooled rows in step."""
        pooled = None if self.pooled is None else self.pooled[list(indices)]
        return Embeddings(self.tokens[list(indices)], pooled)

    def to(self, dtype: torch.dtype) -> Embeddings:
        """Cast to the model's compute dtype."""
        pooled = None if self.pooled is None else self.pooled.to(dtype)
        return Embeddings(self.tokens.to(dtype), pooled)


class AskedFor(Protocol):
    """What a request asks that a family may be unable to do (a ``GenerationRequest``)."""

    @property
    def sampler(self) -> str:
        """The sampler's name."""

    @property
    def negative_prompt(self) -> str:
        """What to keep out of the image."""

    @property
    def tile(self) -> bool:
        """Whether the image must tile seamlessly."""


class PromptEncoder(ABC):
    """Turn prompts in Easel's weighting syntax into a family's embeddings."""

    @abstractmethod
    def encode(self, prompts: Sequence[str]) -> Embeddings:
        """Return one row per prompt, padded to one length so they can share a call."""


class ModelFamily(ABC):
    """One architecture's way of doing what the engine asks."""

    name: ClassVar[str]
    label: ClassVar[str]
    pipeline_classes: ClassVar[frozenset[str]]
    samplers: ClassVar[tuple[str, ...]]
    negative_prompts: ClassVar[bool] = True
    seamless_tiling: ClassVar[bool] = True
    size_multiple: ClassVar[int] = 8
    denoiser_attribute: ClassVar[str] = "unet"  # the pipeline attribute holding the denoiser
    # Image-to-image pipelines that draw at a default size unless told the output size.
    img2img_needs_size: ClassVar[bool] = False
    # The keyword the family's ControlNet pipeline takes the control images by.
    control_argument: ClassVar[str] = "image"

    # Loading -------------------------------------------------------------------------------

    @abstractmethod
    def pipeline_class(self) -> Any:
        """Return the diffusers text-to-image pipeline class of this family."""

    def load(self, settings: ModelSettings, dtype: torch.dtype, cache_dir: Path) -> Any:
        """Load the text-to-image pipeline from a hub id, a folder or a single file."""
        cls = self.pipeline_class()
        common: dict[str, Any] = {"dtype": dtype, "cache_dir": str(cache_dir)}
        if settings.source == "file":
            # Offline when the architecture's config files are a local folder.
            local = settings.config is not None and Path(settings.config).is_absolute()
            return cls.from_single_file(
                settings.path, config=settings.config, local_files_only=local, **common
            )
        return cls.from_pretrained(
            settings.path, local_files_only=settings.source == "folder", **common
        )

    def check_loaded(self, pipe: Any, path: str) -> None:
        """Refuse a pipeline of another family than the one its files said."""
        if type(pipe).__name__ not in self.pipeline_classes:
            raise ModelLoadError(
                f"{path} loaded as a {type(pipe).__name__}, not a {self.label} pipeline."
            )

    def derive(self, pipe: Any, dtype: torch.dtype) -> tuple[Any, Any]:
        """Return image-to-image and inpainting pipelines sharing the loaded weights."""
        from diffusers import (  # noqa: PLC0415 - slow import
            AutoPipelineForImage2Image,
            AutoPipelineForInpainting,
        )

        # from_pipe shares modules; without dtype it would recast them to float32.
        img2img = AutoPipelineForImage2Image.from_pipe(pipe, dtype=dtype)
        inpaint = AutoPipelineForInpainting.from_pipe(pipe, dtype=dtype)
        return img2img, inpaint

    def controlnet_class(self) -> Any:
        """Return the diffusers ControlNet model class of this family."""
        from diffusers import ControlNetModel  # noqa: PLC0415 - slow import

        return ControlNetModel

    def denoiser(self, pipe: Any) -> nn.Module:
        """Return the module that denoises: the UNet (a transformer family says otherwise)."""
        unet: nn.Module = pipe.unet
        return unet

    def step_cache(self, pipe: Any, settings: GenerationSettings) -> AbstractContextManager[object]:
        """Return the block that draws one call of ``pipe`` with ``--fast``: DeepCache."""
        from pipeline.step_cache import deep_cache  # noqa: PLC0415 - keeps the seam light

        return deep_cache(self.denoiser(pipe), settings.fast_every, settings.fast_full_steps)

    def native_size(self, pipe: Any) -> tuple[int, int]:
        """Return the (width, height) the loaded model was trained at."""
        sample = pipe.unet.config.sample_size
        height, width = (sample, sample) if isinstance(sample, int) else sample
        factor = pipe.vae_scale_factor
        return int(width * factor), int(height * factor)

    def apply_attention(self, pipe: Any, kind: str) -> None:
        """Choose the attention kernel of the denoiser and the VAE."""
        from diffusers.models.attention_processor import (  # noqa: PLC0415 - slow import
            AttnProcessor,
            AttnProcessor2_0,
        )

        processor = AttnProcessor2_0() if kind == "sdpa" else AttnProcessor()
        pipe.unet.set_attn_processor(processor)
        pipe.vae.set_attn_processor(processor)

    # Prompts and calls ---------------------------------------------------------------------

    @abstractmethod
    def encoder(self, pipe: Any, device: torch.device) -> PromptEncoder:
        """Build the prompt encoder over the loaded text encoders."""

    @abstractmethod
    def call_arguments(
        self, positive: Embeddings, negative: Embeddings, guidance: float
    ) -> dict[str, Any]:
        """Return the pipeline keyword arguments that carry the prompt and guidance."""

    def previewer(self, pipe: Any, device: torch.device) -> LatentPreviewer:
        """Build the cheap latent previewer of the VAE, reading the denoiser's latents as is."""
        from pipeline.preview import LatentPreviewer  # noqa: PLC0415 - keeps the seam light

        return LatentPreviewer(pipe.vae, device, pipe.vae_scale_factor)

    # What a prompt gets, and what it may ask -----------------------------------------------

    def defaults(
        self, traits: ModelTraits, steps: int, guidance: float, sampler: str
    ) -> ModelDefaults:
        """Return this family's defaults, given the server's (which suit UNet models)."""
        return ModelDefaults(steps, guidance, sampler)

    def guidance_input(self, traits: ModelTraits) -> bool:
        """Tell whether ``--cfg`` changes anything on this model."""
        return True

    def refuse_unsupported(self, request: AskedFor, traits: ModelTraits) -> None:
        """Raise a user's error for what this family cannot do, rather than ignore it."""
        if request.sampler not in self.samplers:
            raise ParameterError(
                f"--sampler {request.sampler} does not work with {self.label} models; "
                f"choose one of: {', '.join(self.samplers)}."
            )
        if request.negative_prompt and not self.negative_prompts:
            raise ParameterError(
                f"{self.label} models have no negative prompt, so --no and negative prompts "
                "cannot work with them: describe what you want to see instead."
            )
        if request.tile and not self.seamless_tiling:
            raise ParameterError(f"--tile does not work with {self.label} models.")
