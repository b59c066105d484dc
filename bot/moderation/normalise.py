"""Reduce text to a plain lowercase ASCII skeleton so filters see through disguises.

``n̲u̲d̲e̲``, ``nu\u200bde``, ``ｎｕｄｅ``, ``n-u-d-e``, ``nυdе`` (Greek and Cyrillic look-alikes),
``NUD3`` all become ``nude``. The steps, in order: Unicode compatibility decomposition (NFKD);
dropping invisible format and control characters and combining marks; recomposition (NFKC);
mapping confusable look-alikes to the Latin letter they imitate (Unicode TR39's confusables
data, shipped with ``confusable-homoglyphs``) — before transliteration, which would turn
Cyrillic ``р`` into ``r``; transliterating what is left to ASCII (``anyascii``); case-folding;
undoing leetspeak; and removing punctuation inside words and spaces between single letters.
Repeated letters are handled by the matchers (``n+u+d+e+``), which keeps ``ass`` from
matching ``as``.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import unicodedata

from anyascii import anyascii

MAX_CHARS = 6000
_DROPPED_CATEGORIES = {"Cf", "Cc", "Cs", "Co", "Cn", "Mn", "Me", "Mc"}
_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
        "€": "e",
    }
)
_INNER_PUNCTUATION = re.compile(r"(?<=[a-z])[^a-z\s]+(?=[a-z])")
_SPACED_LETTERS = re.compile(r"\b[a-z](?:[\s\W_]+[a-z]\b){2,}")
_SEPARATORS = re.compile(r"[\s\W_]+")
_WHITESPACE = re.compile(r"\s+")


@functools.cache
def _latin_look_alikes() -> dict[int, str]:
    """Map every non-ASCII character that imitates a Latin letter to that letter."""
    data = json.loads(
        importlib.resources.files("confusable_homoglyphs")
        .joinpath("confusables.json")
        .read_text(encoding="utf-8")
    )
    table: dict[int, str] = {}
    for character, homoglyphs in data.items():
        if len(character) != 1 or character.isascii():
            continue
        latin = [
            h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalpha()
        ]
        if latin:
            table[ord(character)] = latin[0].lower()
    return table


def normalise(text: str) -> str:
    """Return the ASCII skeleton of ``text`` that filters match against (never raises)."""
    return _join_spaced_letters(skeleton(text))


def spaced_runs(text: str) -> list[str]:
    """Return the runs of three or more spaced-out single letters in ``text``, each joined.

    ``a r e d f o x`` gives ``aredfox``: where words start inside such a run is unknowable,
    so filters search these runs without requiring word boundaries.
    """
    return [
        _SEPARATORS.sub("", match.group(0)) for match in _SPACED_LETTERS.finditer(skeleton(text))
    ]


def skeleton(text: str) -> str:
    """Return ``text`` reduced to ASCII, before spaced-out letters are joined."""
    text = unicodedata.normalize("NFKD", text[:MAX_CHARS])
    text = "".join(
        " " if character in "\t\n\r" else character
        for character in text
        if character in "\t\n\r" or unicodedata.category(character) not in _DROPPED_CATEGORIES
    )
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_latin_look_alikes())
    text = anyascii(text).casefold().translate(_LEET)
    return _WHITESPACE.sub(" ", _INNER_PUNCTUATION.sub("", text)).strip()


def _join_spaced_letters(text: str) -> str:
    """Join runs of spaced-out single letters: ``n u d e`` becomes ``nude``."""
    return _SPACED_LETTERS.sub(lambda match: _SEPARATORS.sub("", match.group(0)), text)
