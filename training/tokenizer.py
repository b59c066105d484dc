"""Build the model's CLIP tokenizer offline: a small BPE vocabulary learnt from its captions.

CLIP's tokenizer splits text with a regular expression, then maps bytes to printable
characters, then applies BPE merges whose word-final pieces end in ``</w>``. Learning the
merges through the very normaliser and pre-tokeniser ``CLIPTokenizer`` uses guarantees they
apply at inference. Every byte stays in the vocabulary, so no prompt is ever untokenisable.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING

from tokenizers import Tokenizer, models, trainers
from tokenizers.pre_tokenizers import ByteLevel
from transformers import CLIPTokenizer

from training.captions import caption
from training.scenes import random_scene

if TYPE_CHECKING:
    from collections.abc import Iterable

START, END = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 77


def byte_vocabulary() -> dict[str, int]:
    """Return every byte symbol, alone and word-final, plus CLIP's two special tokens."""
    alphabet = sorted(ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    vocab.update({f"{symbol}</w>": len(alphabet) + i for i, symbol in enumerate(alphabet)})
    vocab[START] = len(vocab)
    vocab[END] = len(vocab)
    return vocab


def corpus(count: int = 20000, seed: int = 7) -> list[str]:
    """Return ``count`` random captions to learn merges from."""
    rng = random.Random(seed)
    return [caption(random_scene(rng, frozenset()), rng) for _ in range(count)]


def build_tokenizer(texts: Iterable[str] | None = None, vocab_size: int = 700) -> CLIPTokenizer:
    """Learn BPE merges on ``texts`` (default: the caption corpus) and return a CLIP tokenizer."""
    byte_level = CLIPTokenizer(vocab=byte_vocabulary(), merges=[], model_max_length=MAX_LENGTH)
    backend = byte_level.backend_tokenizer
    learner = Tokenizer(models.BPE(end_of_word_suffix="</w>", unk_token=END))
    learner.normalizer = backend.normalizer
    learner.pre_tokenizer = backend.pre_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=ByteLevel.alphabet(),
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    learner.train_from_iterator(corpus() if texts is None else texts, trainer)
    learnt = learner.get_vocab()
    vocab = byte_vocabulary()
    for token, _ in sorted(learnt.items(), key=lambda item: item[1]):
        vocab.setdefault(token, len(vocab))
    merges = _merges(learner)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=MAX_LENGTH)


def _merges(learner: Tokenizer) -> list[tuple[str, str]]:
    """Return the learnt merges in rank order (serialised as pairs or as "a b" strings)."""
    merges: list[tuple[str, str]] = []
    for merge in json.loads(learner.to_str())["model"]["merges"]:
        first, second = merge.split(" ", 1) if isinstance(merge, str) else merge
        merges.append((first, second))
    return merges
