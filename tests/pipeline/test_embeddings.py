"""Prompt embeddings: weighting, multi-prompt blending and long prompts change them correctly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from pipeline.families.sd import ClipEncoder

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipeline.engine import Engine


class _TokenStates:
    """The SD family's encoder, giving back only the token states these tests compare."""

    def __init__(self, engine: Engine) -> None:
        self._encoder = ClipEncoder(engine.model.txt2img, torch.device("cpu"))

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        """Return one row of token states per prompt."""
        return self._encoder.encode(prompts).tokens


def encoder(engine: Engine) -> _TokenStates:
    """Build an encoder on the engine's tokenizer and text encoder."""
    return _TokenStates(engine)


def test_plain_prompt_is_one_chunk_of_77_tokens(tiny_engine: Engine) -> None:
    """Encode a short prompt as one CLIP chunk."""
    assert encoder(tiny_engine).encode(["a red fox"]).shape[:2] == (1, 77)


def test_weight_of_one_changes_nothing(tiny_engine: Engine) -> None:
    """Encode (word:1) exactly like the plain word."""
    embeddings = encoder(tiny_engine).encode(["a (red:1) fox", "a red fox"])
    assert torch.allclose(embeddings[0], embeddings[1], atol=1e-6)


def test_weighting_changes_the_embeddings(tiny_engine: Engine) -> None:
    """Encode (word:1.5) differently from the plain word."""
    embeddings = encoder(tiny_engine).encode(["a (red:1.5) fox", "a red fox"])
    assert not torch.allclose(embeddings[0], embeddings[1], atol=1e-4)


def test_multi_prompt_blends_the_parts_by_weight(tiny_engine: Engine) -> None:
    """Encode 'a:: b::3' as the weighted average of 'a' and 'b'."""
    blended, first, second = encoder(tiny_engine).encode(["fox:: snow::3", "fox", "snow"])
    assert torch.allclose(blended, (first + 3 * second) / 4, atol=1e-5)


def test_long_prompts_are_not_truncated(tiny_engine: Engine) -> None:
    """Encode a prompt beyond 77 tokens in more chunks, padding short ones to match."""
    long_prompt = "red " * 60  # the tiny tokenizer spends one token a character
    embeddings = encoder(tiny_engine).encode([long_prompt, "fox"])
    assert embeddings.shape[1] > 77
    assert embeddings.shape[1] % 77 == 0
