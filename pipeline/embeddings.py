"""Turn prompts with weighting syntax into the text embeddings a model reads, through compel.

The weighting maths (up- and down-weighting tokens, blending multi-prompts, prompts longer
than a text encoder's 77 tokens) is done by the maintained ``compel`` library. We hand it
the fragments that :mod:`pipeline.prompt_syntax` parsed, as compel objects rather than as
compel's own string syntax, so user text can never be misread as compel operators. Each
family combines one or two of these encoders the way compel's ``CompelForSD``,
``CompelForSDXL`` and ``CompelForFlux`` configure them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from compel import Compel
from compel.prompt_parser import Blend, FlattenedPrompt

from pipeline.prompt_syntax import PromptPart, parse_weighted_prompt

if TYPE_CHECKING:
    from collections.abc import Sequence


def prompt_object(prompt: str) -> FlattenedPrompt | Blend:
    """Return compel's object for a prompt: one weighted fragment list, or a ``::`` blend."""
    parts = parse_weighted_prompt(prompt).parts
    if len(parts) == 1:
        return _flatten(parts[0])
    return Blend(
        prompts=[_flatten(part) for part in parts],
        weights=[part.weight for part in parts],
        normalize_weights=True,
    )


def plain_text(prompt: str) -> str:
    """Return the prompt's words without weights, for encoders that read a pooled summary."""
    parts = parse_weighted_prompt(prompt).parts
    return " ".join(fragment.text for part in parts for fragment in part.fragments).strip()


class WeightedEncoder:
    """One text encoder under compel: weighted embeddings for each prompt, padded to one length."""

    def __init__(self, tokenizer: Any, text_encoder: Any, device: torch.device, **options: Any):
        self.compel = Compel(
            tokenizer=tokenizer, text_encoder=text_encoder, device=str(device), **options
        )

    @torch.no_grad()
    def tensors(self, prompts: Sequence[str]) -> list[torch.Tensor]:
        """Return each prompt's embeddings, unpadded, with a batch dimension of one."""
        out: list[torch.Tensor] = []
        for prompt in prompts:
            (conditioning, _tokens), _options = (
                self.compel.build_conditioning_tensor_for_prompt_object(prompt_object(prompt))
            )
            tensor: torch.Tensor = conditioning
            out.append(tensor if tensor.dim() == 3 else tensor.unsqueeze(0))
        return out

    @torch.no_grad()
    def padded(self, tensors: list[torch.Tensor], length: int | None = None) -> torch.Tensor:
        """Pad embeddings to one length (at least ``length``) with the empty prompt's."""
        padded = self.compel.pad_conditioning_tensors_to_same_length(tensors)
        batch = torch.cat(padded, dim=0)
        if length is not None and batch.shape[1] < length:
            empty = self.tensors([""])[0]
            repeats = -(-(length - batch.shape[1]) // empty.shape[1])
            filler = empty.repeat(batch.shape[0], repeats, 1)[:, : length - batch.shape[1]]
            batch = torch.cat([batch, filler.to(batch.dtype)], dim=1)
        return batch

    @torch.no_grad()
    def pooled(self, prompts: Sequence[str]) -> torch.Tensor:
        """Return the pooled embedding of each prompt's plain words (SDXL's second encoder)."""
        provider = self.compel.conditioning_provider
        result: torch.Tensor = provider.get_pooled_embeddings(
            [plain_text(prompt) for prompt in prompts], device=str(self.compel.device)
        )
        return result


def _flatten(part: PromptPart) -> FlattenedPrompt:
    """Convert one parsed part into compel's fragment list (an empty prompt is one empty text)."""
    fragments = [(fragment.text, fragment.weight) for fragment in part.fragments]
    return FlattenedPrompt(fragments or [("", 1.0)])
