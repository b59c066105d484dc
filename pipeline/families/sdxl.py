"""SDXL: two CLIP text encoders (their hidden states side by side, plus a pooled summary).

This covers SDXL base and its single-file fine-tunes (Pony-, Illustrious- and
NoobAI-based checkpoints load as SDXL). Everything SD does applies: negative prompts, every
sampler, seamless tiling. An empty negative prompt is zeros where the model says so
(``force_zeros_for_empty_prompt``), as diffusers does for SDXL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch

from pipeline.embeddings import WeightedEncoder
from pipeline.families.base import Embeddings, ModelFamily, PromptEncoder
from pipeline.samplers import UNET_SAMPLERS

if TYPE_CHECKING:
    from collections.abc import Sequence


class DualClipEncoder(PromptEncoder):
    """SDXL's encoders, as compel's ``CompelForSDXL`` sets them up: penultimate layers, pooled."""

    def __init__(self, pipe: Any, device: torch.device) -> None:
        from compel import ReturnedEmbeddingsType  # noqa: PLC0415 - compel imports slowly

        penultimate = ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED
        for tokenizer, text_encoder in (
            (pipe.tokenizer, pipe.text_encoder),
            (pipe.tokenizer_2, pipe.text_encoder_2),
        ):
            tokenizer.model_max_length = min(
                tokenizer.model_max_length, text_encoder.config.max_position_embeddings
            )
        options = {"returned_embeddings_type": penultimate, "truncate_long_prompts": False}
        self._first = WeightedEncoder(pipe.tokenizer, pipe.text_encoder, device, **options)
        self._second = WeightedEncoder(
            pipe.tokenizer_2, pipe.text_encoder_2, device, requires_pooled=True, **options
        )
        self._zeros_for_empty = bool(getattr(pipe.config, "force_zeros_for_empty_prompt", False))

    def encode(self, prompts: Sequence[str]) -> Embeddings:
        """Return both encoders' states side by side (one length) and the pooled summaries."""
        first = self._first.tensors(prompts)
        second = self._second.tensors(prompts)
        length = max(tensor.shape[1] for tensor in first + second)
        tokens = torch.cat(
            [self._first.padded(first, length), self._second.padded(second, length)], dim=-1
        )
        pooled = self._second.pooled(prompts)
        if self._zeros_for_empty:
            empty = torch.tensor([not prompt.strip() for prompt in prompts])
            tokens[empty] = 0
            pooled[empty] = 0
        return Embeddings(tokens, pooled)


class StableDiffusionXLFamily(ModelFamily):
    """SDXL base and its fine-tunes."""

    name: ClassVar[str] = "sdxl"
    label: ClassVar[str] = "SDXL"
    pipeline_classes: ClassVar[frozenset[str]] = frozenset(
        {"StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline"}
    )
    samplers: ClassVar[tuple[str, ...]] = UNET_SAMPLERS

    def pipeline_class(self) -> Any:
        """Return ``StableDiffusionXLPipeline``."""
        from diffusers import StableDiffusionXLPipeline  # noqa: PLC0415 - slow import

        return StableDiffusionXLPipeline

    def encoder(self, pipe: Any, device: torch.device) -> PromptEncoder:
        """Build the two-encoder prompt encoder."""
        return DualClipEncoder(pipe, device)

    def call_arguments(
        self, positive: Embeddings, negative: Embeddings, guidance: float
    ) -> dict[str, Any]:
        """Pass the embeddings, the pooled summaries, and classifier-free guidance."""
        return {
            "prompt_embeds": positive.tokens,
            "pooled_prompt_embeds": positive.pooled,
            "negative_prompt_embeds": negative.tokens,
            "negative_pooled_prompt_embeds": negative.pooled,
            "guidance_scale": guidance,
        }
