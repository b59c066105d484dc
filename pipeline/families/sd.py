"""Stable Diffusion 1.x and 2.x: one CLIP text encoder, a UNet, a 4-channel VAE.

Negative prompts, every sampler of :mod:`pipeline.samplers` and seamless tiling all apply;
the model's own safety checker, when it ships one, is heard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pipeline.embeddings import WeightedEncoder
from pipeline.families.base import Embeddings, ModelFamily, PromptEncoder
from pipeline.samplers import UNET_SAMPLERS

if TYPE_CHECKING:
    from collections.abc import Sequence

    import torch


class ClipEncoder(PromptEncoder):
    """SD's one CLIP encoder, as compel's ``CompelForSD`` sets it up (long prompts chunked)."""

    def __init__(self, pipe: Any, device: torch.device) -> None:
        # Tokenizers saved without a limit report an enormous one; CLIP reads 77 tokens a chunk.
        pipe.tokenizer.model_max_length = min(
            pipe.tokenizer.model_max_length, pipe.text_encoder.config.max_position_embeddings
        )
        self._clip = WeightedEncoder(
            pipe.tokenizer, pipe.text_encoder, device, truncate_long_prompts=False
        )

    def encode(self, prompts: Sequence[str]) -> Embeddings:
        """Return CLIP's last hidden states for each prompt, padded to one length."""
        return Embeddings(self._clip.padded(self._clip.tensors(prompts)))


class StableDiffusionFamily(ModelFamily):
    """Stable Diffusion 1.x / 2.x and their fine-tunes."""

    name: ClassVar[str] = "sd"
    label: ClassVar[str] = "Stable Diffusion 1/2"
    pipeline_classes: ClassVar[frozenset[str]] = frozenset(
        {"StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"}
    )
    samplers: ClassVar[tuple[str, ...]] = UNET_SAMPLERS

    def pipeline_class(self) -> Any:
        """Return ``StableDiffusionPipeline``."""
        from diffusers import StableDiffusionPipeline  # noqa: PLC0415 - slow import

        return StableDiffusionPipeline

    def encoder(self, pipe: Any, device: torch.device) -> PromptEncoder:
        """Build the CLIP encoder."""
        return ClipEncoder(pipe, device)

    def call_arguments(
        self, positive: Embeddings, negative: Embeddings, guidance: float
    ) -> dict[str, Any]:
        """Pass the embeddings and classifier-free guidance."""
        return {
            "prompt_embeds": positive.tokens,
            "negative_prompt_embeds": negative.tokens,
            "guidance_scale": guidance,
        }
