"""Turn prompts with weighting syntax into the text embeddings a Stable Diffusion UNet reads.

The weighting maths (up- and down-weighting tokens, blending multi-prompts, prompts longer
than the text encoder's 77 tokens) is done by the maintained ``compel`` library. We hand it
the fragments that :mod:`pipeline.prompt_syntax` parsed, as compel objects rather than as
compel's own string syntax, so user text can never be misread as compel operators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from compel import Compel
from compel.prompt_parser import Blend, FlattenedPrompt

from pipeline.prompt_syntax import PromptPart, parse_weighted_prompt

if TYPE_CHECKING:
    from collections.abc import Sequence


class PromptEncoder:
    """Encode batches of prompts, padded to one length so they can share a pipeline call."""

    def __init__(self, tokenizer: Any, text_encoder: Any, device: torch.device) -> None:
        self._compel = Compel(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            truncate_long_prompts=False,
            device=str(device),
        )

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        """Return embeddings of shape (len(prompts), tokens, width), padded to equal length."""
        conditionings = [self._encode_one(prompt) for prompt in prompts]
        padded = self._compel.pad_conditioning_tensors_to_same_length(conditionings)
        return torch.cat(padded, dim=0)

    def _encode_one(self, prompt: str) -> torch.Tensor:
        """Encode one prompt, blending the parts of a ``::`` multi-prompt by their weights."""
        parts = parse_weighted_prompt(prompt).parts
        prompt_object: FlattenedPrompt | Blend
        if len(parts) == 1:
            prompt_object = _flatten(parts[0])
        else:
            prompt_object = Blend(
                prompts=[_flatten(part) for part in parts],
                weights=[part.weight for part in parts],
                normalize_weights=True,
            )
        (conditioning, _tokens), _options = (
            self._compel.build_conditioning_tensor_for_prompt_object(prompt_object)
        )
        result: torch.Tensor = conditioning
        return result if result.dim() == 3 else result.unsqueeze(0)


def _flatten(part: PromptPart) -> FlattenedPrompt:
    """Convert one parsed part into compel's fragment list (an empty prompt is one empty text)."""
    fragments = [(fragment.text, fragment.weight) for fragment in part.fragments]
    return FlattenedPrompt(fragments or [("", 1.0)])
