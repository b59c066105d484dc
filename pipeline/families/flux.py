"""FLUX.1: a CLIP encoder's pooled summary and T5's token states, a transformer, flow matching.

FLUX.1 models are guidance-distilled: there is no negative prompt and no classifier-free
guidance. Easel refuses ``--no`` and negative prompts on them rather than run true CFG,
which would double the cost of every step for an effect the models were not trained for.
On schnell-like models (no guidance input) ``--cfg`` is refused too; on dev-like ones it sets
the embedded guidance (default 3.5). Defaults come from the model: a guidance input means a
dev-like model (28 steps), none a schnell-like one (4 steps). The transformer has no
convolutions to wrap, so ``--tile`` is refused. Sizes are multiples of 16 (2×2 latent
patches).

A single FLUX file is loaded by :mod:`pipeline.families.flux_file`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pipeline.embeddings import WeightedEncoder
from pipeline.errors import ModelLoadError
from pipeline.families.base import Embeddings, ModelDefaults, ModelFamily, PromptEncoder
from pipeline.families.flux_file import load_original_transformer
from pipeline.preview import LatentPreviewer
from pipeline.samplers import FLOW_SAMPLERS
from pipeline.step_cache import first_block_cache

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager

    import torch
    from torch import nn

    from pipeline.config import GenerationSettings, ModelSettings
    from pipeline.families.base import ModelTraits

logger = logging.getLogger(__name__)

SCHNELL_STEPS = 4
DEV_STEPS = 28
DEV_GUIDANCE = 3.5

# BFL's names of the transformer's top-level modules; a trainer may prefix them all.


class ClipT5Encoder(PromptEncoder):
    """FLUX's encoders, as compel's ``CompelForFlux`` sets them up: both truncate."""

    def __init__(self, pipe: Any, device: torch.device) -> None:
        pipe.tokenizer.model_max_length = min(
            pipe.tokenizer.model_max_length, pipe.text_encoder.config.max_position_embeddings
        )
        self._clip = WeightedEncoder(
            pipe.tokenizer, pipe.text_encoder, device, truncate_long_prompts=True
        )
        self._t5 = WeightedEncoder(
            pipe.tokenizer_2, pipe.text_encoder_2, device, truncate_long_prompts=True
        )

    def encode(self, prompts: Sequence[str]) -> Embeddings:
        """Return T5's weighted token states and CLIP's pooled summary of each prompt."""
        tokens = self._t5.padded(self._t5.tensors(prompts))
        return Embeddings(tokens, self._clip.pooled(prompts))


class FluxFamily(ModelFamily):
    """FLUX.1 schnell, dev and their fine-tunes."""

    name: ClassVar[str] = "flux"
    label: ClassVar[str] = "FLUX.1"
    pipeline_classes: ClassVar[frozenset[str]] = frozenset({"FluxPipeline", "FluxImg2ImgPipeline"})
    samplers: ClassVar[tuple[str, ...]] = FLOW_SAMPLERS
    negative_prompts: ClassVar[bool] = False
    seamless_tiling: ClassVar[bool] = False
    size_multiple: ClassVar[int] = 16
    denoiser_attribute: ClassVar[str] = "transformer"
    img2img_needs_size: ClassVar[bool] = True
    control_argument: ClassVar[str] = "control_image"

    def controlnet_class(self) -> Any:
        """Return ``FluxControlNetModel``."""
        from diffusers import FluxControlNetModel  # noqa: PLC0415 - slow import

        return FluxControlNetModel

    def pipeline_class(self) -> Any:
        """Return ``FluxPipeline``."""
        from diffusers import FluxPipeline  # noqa: PLC0415 - slow import

        return FluxPipeline

    def load(self, settings: ModelSettings, dtype: torch.dtype, cache_dir: Path) -> Any:
        """Load a folder or hub id as usual; a single file as its transformer plus ``config:``.

        A FLUX file is almost always the transformer alone, and the rest of the pipeline is
        the same for every fine-tune, so it comes from ``config:`` in every case: a full
        checkpoint's embedded encoders and VAE (stock copies, in practice) are not read.
        """
        if settings.source != "file":
            return super().load(settings, dtype, cache_dir)
        if settings.config is None:
            raise ModelLoadError(
                f"{Path(settings.path).name} is a FLUX file, of which Easel reads only the "
                "transformer: set the model's config: key to a diffusers FLUX model that "
                "provides the text encoders, VAE and scheduler, e.g. "
                "black-forest-labs/FLUX.1-schnell (or dev, to match the fine-tune) or a local "
                "copy of one."
            )
        from diffusers import FluxPipeline  # noqa: PLC0415 - slow import

        # Offline when the config is a local folder, as for the other families' single files.
        common: dict[str, Any] = {
            "cache_dir": str(cache_dir),
            "local_files_only": Path(settings.config).is_absolute(),
        }
        transformer = load_original_transformer(Path(settings.path), settings.config, common)
        return FluxPipeline.from_pretrained(
            settings.config, transformer=transformer.to(dtype), dtype=dtype, **common
        )

    def denoiser(self, pipe: Any) -> nn.Module:
        """Return the transformer."""
        transformer: nn.Module = pipe.transformer
        return transformer

    def native_size(self, pipe: Any) -> tuple[int, int]:
        """Return the VAE's sample size (the transformer has none): 1024² for FLUX.1."""
        side = int(pipe.vae.config.sample_size)
        return side, side

    def apply_attention(self, pipe: Any, kind: str) -> None:
        """Keep FLUX's own fused attention, which already runs on SDPA."""
        if kind != "sdpa":
            logger.warning("attention: %s does not apply to FLUX models; using sdpa", kind)

    def encoder(self, pipe: Any, device: torch.device) -> PromptEncoder:
        """Build the CLIP + T5 encoder."""
        return ClipT5Encoder(pipe, device)

    def call_arguments(
        self, positive: Embeddings, negative: Embeddings, guidance: float
    ) -> dict[str, Any]:
        """Pass the embeddings and the embedded guidance (ignored by schnell-like models)."""
        return {
            "prompt_embeds": positive.tokens,
            "pooled_prompt_embeds": positive.pooled,
            "guidance_scale": guidance,
        }

    def step_cache(self, pipe: Any, settings: GenerationSettings) -> AbstractContextManager[object]:
        """Draw ``--fast`` with diffusers' first-block cache on the transformer."""
        return first_block_cache(pipe.transformer, settings.fast_threshold)

    def previewer(self, pipe: Any, device: torch.device) -> LatentPreviewer:
        """Preview after unpacking the transformer's 2×2 latent patches."""
        factor = pipe.vae_scale_factor

        def unpack(latents: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
            unpacked: torch.Tensor = pipe._unpack_latents(latents, size[1], size[0], factor)
            return unpacked

        return LatentPreviewer(pipe.vae, device, factor, unpack=unpack)

    def guidance_input(self, traits: ModelTraits) -> bool:
        """Only dev-like models read guidance; schnell-like ones have it distilled away."""
        return traits.guidance_embedded

    def defaults(
        self, traits: ModelTraits, steps: int, guidance: float, sampler: str
    ) -> ModelDefaults:
        """Read schnell or dev from the model: the server's UNet defaults do not fit FLUX."""
        if traits.guidance_embedded:
            return ModelDefaults(DEV_STEPS, DEV_GUIDANCE, FLOW_SAMPLERS[0])
        return ModelDefaults(SCHNELL_STEPS, 0.0, FLOW_SAMPLERS[0])
