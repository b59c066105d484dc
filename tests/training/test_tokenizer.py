"""The offline CLIP tokenizer: whole words for the world's vocabulary, bytes for the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from training.tokenizer import build_tokenizer

if TYPE_CHECKING:
    from transformers import CLIPTokenizer


@pytest.fixture(scope="module")
def tokenizer() -> CLIPTokenizer:
    """Learn the tokenizer once for this module."""
    return build_tokenizer()


def test_the_worlds_words_are_single_tokens(tokenizer: CLIPTokenizer) -> None:
    """Give every colour, shape and position word its own token."""
    tokens = tokenizer.tokenize("An orange star on a purple backdrop in the top left corner")
    assert tokens == [
        "an</w>", "orange</w>", "star</w>", "on</w>", "a</w>",
        "purple</w>", "backdrop</w>", "in</w>", "the</w>", "top</w>", "left</w>", "corner</w>",
    ]  # fmt: skip


def test_any_text_tokenises_without_unknown_tokens(tokenizer: CLIPTokenizer) -> None:
    """Fall back to bytes for words the world never uses, even emoji."""
    ids = tokenizer("a fox 🦊 in the snow").input_ids
    assert tokenizer.unk_token_id not in ids[1:-1]
    assert tokenizer.decode(ids, skip_special_tokens=True).strip() == "a fox 🦊 in the snow"
