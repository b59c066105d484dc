r"""Parse prompt weighting: ``(word:1.3)``, ``(word)``, ``[word]`` and Midjourney ``a:: b::2``.

The syntax follows what users know from AUTOMATIC1111 and Midjourney: ``(x)`` multiplies the
attention on ``x`` by 1.1, ``[x]`` divides it by 1.1, ``(x:1.3)`` sets 1.3, brackets nest and
multiply, ``\(`` is a literal bracket, and unbalanced brackets are forgiven rather than
refused. ``::`` splits a prompt into parts that are encoded separately and blended by the
number after each ``::`` (default 1). Parsing is pure; :mod:`pipeline.embeddings` turns the
result into text embeddings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.errors import PromptError

ROUND_MULTIPLIER = 1.1
MAX_FRAGMENT_WEIGHT = 3.0
MAX_PART_WEIGHT = 10.0

_PART_SEPARATOR = re.compile(r"::\s*(-?\d+(?:\.\d+)?)?")
_TOKEN = re.compile(r"\\[()\[\]\\]|\(|\[|:\s*([+-]?\d+(?:\.\d+)?)\s*\)|\)|\]|[^\\()\[\]:]+|:|\\")


@dataclass(frozen=True)
class Fragment:
    """A run of prompt text that carries one attention weight."""

    text: str
    weight: float


@dataclass(frozen=True)
class PromptPart:
    """One ``::``-separated part of a multi-prompt, with its blend weight."""

    fragments: tuple[Fragment, ...]
    weight: float

    @property
    def text(self) -> str:
        """Return the part's text without any weighting syntax."""
        return "".join(fragment.text for fragment in self.fragments)


@dataclass(frozen=True)
class WeightedPrompt:
    """A parsed prompt: one part for ordinary prompts, several for ``::`` multi-prompts."""

    parts: tuple[PromptPart, ...]

    @property
    def is_plain(self) -> bool:
        """Tell whether the prompt has no weighting at all, so the fast plain path applies."""
        return len(self.parts) == 1 and all(f.weight == 1.0 for f in self.parts[0].fragments)

    @property
    def text(self) -> str:
        """Return the prompt's words without weighting syntax (what moderation should read)."""
        return " ".join(part.text.strip() for part in self.parts)


def parse_weighted_prompt(text: str) -> WeightedPrompt:
    """Parse ``text``; raise :class:`PromptError` for weights no model can use sensibly."""
    raw_parts = _split_parts(text)
    parts = tuple(
        PromptPart(fragments=_parse_fragments(part_text), weight=weight)
        for part_text, weight in raw_parts
        if part_text.strip()
    )
    if not parts:
        return WeightedPrompt(parts=(PromptPart(fragments=(), weight=1.0),))
    if len(parts) > 1 and sum(part.weight for part in parts) <= 0:
        raise PromptError("The `::` weights of a multi-prompt must add up to more than 0.")
    return WeightedPrompt(parts=parts)


def _split_parts(text: str) -> list[tuple[str, float]]:
    """Split at ``::`` separators; the number after each one weighs the text before it."""
    parts: list[tuple[str, float]] = []
    start = 0
    for match in _PART_SEPARATOR.finditer(text):
        weight = float(match.group(1)) if match.group(1) is not None else 1.0
        if abs(weight) > MAX_PART_WEIGHT:
            raise PromptError(
                f"Multi-prompt weight ::{match.group(1)} is out of range: use a number "
                f"from -{MAX_PART_WEIGHT:g} to {MAX_PART_WEIGHT:g}."
            )
        parts.append((text[start : match.start()], weight))
        start = match.end()
    parts.append((text[start:], 1.0))
    return parts


def _parse_fragments(text: str) -> tuple[Fragment, ...]:
    """Parse bracket weighting into fragments, merging neighbours of equal weight."""
    pieces: list[list[str | float]] = []  # [text, weight] pairs, weights updated in place
    open_round: list[int] = []
    open_square: list[int] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        explicit = match.group(1)
        if token.startswith("\\") and len(token) == 2:
            pieces.append([token[1], 1.0])
        elif token == "(":
            open_round.append(len(pieces))
        elif token == "[":
            open_square.append(len(pieces))
        elif explicit is not None and open_round:
            weight = float(explicit)
            if not 0.0 <= weight <= MAX_FRAGMENT_WEIGHT:
                raise PromptError(
                    f"Weight ({explicit}) is out of range: use a number from 0 to "
                    f"{MAX_FRAGMENT_WEIGHT:g}, e.g. (word:1.3)."
                )
            _multiply(pieces, open_round.pop(), weight)
        elif token == ")" and open_round:
            _multiply(pieces, open_round.pop(), ROUND_MULTIPLIER)
        elif token == "]" and open_square:
            _multiply(pieces, open_square.pop(), 1 / ROUND_MULTIPLIER)
        else:
            pieces.append([token, 1.0])
    # Unclosed brackets still weigh what follows them, as users of other tools expect.
    for start in open_round:
        _multiply(pieces, start, ROUND_MULTIPLIER)
    for start in open_square:
        _multiply(pieces, start, 1 / ROUND_MULTIPLIER)
    return _merge(pieces)


def _multiply(pieces: list[list[str | float]], start: int, factor: float) -> None:
    """Multiply the weight of every piece from ``start`` to the end by ``factor``."""
    for piece in pieces[start:]:
        piece[1] = float(piece[1]) * factor


def _merge(pieces: list[list[str | float]]) -> tuple[Fragment, ...]:
    """Join neighbouring pieces that ended with the same weight."""
    fragments: list[Fragment] = []
    for text, raw_weight in pieces:
        weight = round(float(raw_weight), 6)
        if fragments and fragments[-1].weight == weight:
            fragments[-1] = Fragment(fragments[-1].text + str(text), weight)
        else:
            fragments.append(Fragment(str(text), weight))
    return tuple(f for f in fragments if f.text)
