"""Reduce text to a plain lowercase ASCII skeleton so filters see through disguises.

``n̲u̲d̲e̲``, ``nu\u200bde``, ``ｎｕｄｅ``, ``n-u-d-e``, ``nυdе`` (Greek and Cyrillic look-alikes),
``NUD3`` all become ``nude``. The steps, in order: Unicode compatibility decomposition (NFKD);
dropping invisible format and control characters and combining marks; recomposition (NFKC);
mapping confusable look-alikes to the Latin letter they imitate (Unicode TR39's confusables
data, shipped with ``confusable-homoglyphs``, plus the few it only links to another non-ASCII
letter, such as Cyrillic ``к`` and Greek ``η``) — before transliteration, which would turn
Cyrillic ``р`` into ``r``; transliterating what is left to ASCII (``anyascii``); case-folding;
undoing leetspeak (an ``!`` closing a word stays punctuation); and removing punctuation inside
words and spaces between single letters. Repeated letters are handled by the matchers
(``n+u+d+e+``), which keeps ``ass`` from matching ``as``.

Letters of other scripts are read as Latin look-alikes only where they are disguises, so a
genuine Russian or Greek word is transliterated, never turned into a Latin word a filter
would block (``сор``, litter, is ``sor``, not ``cop``). A word here is a run of non-space
characters, and it is read as Latin when

* it mixes scripts, one of them Latin, Cyrillic or Greek: Latin with any other (``nudе``,
  ``NUDЕ``, ``ΝUDE``), or Cyrillic with Greek; or
* every letter in it is a look-alike of a Latin letter (``ѕех``, ``сор``), unless the nearest
  word on either side that is not such a word is a genuine word of the same script (one with
  a letter that imitates nothing): ``a cup of сок`` reads ``a cup of cok``, ``Выпей сок``
  reads ``vypei sok``, and a lone ``сор`` reads ``cop``.

Every other word of a non-Latin script is transliterated. A genuine word next to a disguised
one therefore shields it (``привет ѕех`` reads ``privet dzekh``), the price of leaving Russian
and Greek text alone. Since Greek ``ν`` looks like ``v`` but stands for ``n``,
:func:`readings` also gives the plain transliteration of the whole text, without look-alikes,
beside :func:`normalise`'s reading; filters try both.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from anyascii import anyascii

MAX_CHARS = 6000
_DROPPED_CATEGORIES = {"Cf", "Cc", "Cs", "Co", "Cn", "Mn", "Me", "Mc"}
_LATIN = "LATIN"
_ALPHABETS = {_LATIN, "CYRILLIC", "GREEK"}
# Look-alikes that TR39 links only to another non-ASCII letter (к to ĸ, η to n̩), and the
# capital I look-alikes it links to l: an upper-case letter imitates an upper-case one.
_EXTRA_LOOK_ALIKES = {
    "к": "k",  # Cyrillic ka
    "м": "m",  # Cyrillic em
    "н": "h",  # Cyrillic en
    "п": "n",  # Cyrillic pe
    "т": "t",  # Cyrillic te
    "в": "b",  # Cyrillic ve
    "ь": "b",  # Cyrillic soft sign
    "ε": "e",  # Greek epsilon
    "η": "n",  # Greek eta
    "κ": "k",  # Greek kappa
    "μ": "u",  # Greek mu
    "τ": "t",  # Greek tau
    "χ": "x",  # Greek chi
    "ω": "w",  # Greek omega
    "Ι": "i",  # Greek capital iota
    "І": "i",  # Cyrillic capital byelorussian-ukrainian i
    "Ӏ": "i",  # Cyrillic palochka
}
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
        "|": "l",
        "+": "t",
        "€": "e",
    }
)
_BANG_AS_I = re.compile(r"!(?=!*[a-z0-9@$|+])")
_INNER_PUNCTUATION = re.compile(r"(?<=[a-z])[^a-z\s]+(?=[a-z])")
_SPACED_LETTERS = re.compile(r"\b[a-z](?:[\s\W_]+[a-z]\b){2,}")
_SEPARATORS = re.compile(r"[\s\W_]+")
_WHITESPACE = re.compile(r"\s+")
_WORDS_AND_SPACES = re.compile(r"(\s+)")

Role = Literal["latin", "mixed", "look-alike", "genuine", "blank"]


@dataclass(frozen=True)
class _Word:
    """How a word is written: its role and, for a single non-Latin script, that script."""

    role: Role
    script: str = ""


@dataclass(frozen=True)
class _LookAlikes:
    """Look-alike tables: one applied everywhere, one only in words read as Latin."""

    everywhere: dict[int, str]
    in_latin_words: dict[int, str]


@functools.cache
def _look_alikes() -> _LookAlikes:
    """Map every non-ASCII character that imitates a Latin letter to that letter."""
    data = json.loads(
        importlib.resources.files("confusable_homoglyphs")
        .joinpath("confusables.json")
        .read_text(encoding="utf-8")
    )
    table: dict[str, str] = {}
    for character, homoglyphs in data.items():
        if len(character) != 1 or character.isascii():
            continue
        latin = [
            h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalpha()
        ]
        if latin:
            table[character] = latin[0].lower()
    table.update(_EXTRA_LOOK_ALIKES)
    everywhere: dict[int, str] = {}
    in_latin_words: dict[int, str] = {}
    for character, letter in table.items():
        foreign = character.isalpha() and _script(character) != _LATIN
        (in_latin_words if foreign else everywhere)[ord(character)] = letter
    return _LookAlikes(everywhere, in_latin_words)


def normalise(text: str) -> str:
    """Return the ASCII skeleton of ``text`` that filters match against (never raises)."""
    return _join_spaced_letters(skeleton(text))


def readings(text: str) -> list[str]:
    """Return the normalised readings of ``text``: with look-alikes, then transliterated.

    The second is left out when it is the same as the first, as it is for Latin text.
    """
    return list(dict.fromkeys(_join_spaced_letters(reading) for reading in _skeletons(text)))


def spaced_runs(text: str) -> list[str]:
    """Return the runs of three or more spaced-out single letters in ``text``, each joined.

    ``a r e d f o x`` gives ``aredfox``: where words start inside such a run is unknowable,
    so filters search these runs without requiring word boundaries. Runs of every reading
    (see :func:`readings`) are given.
    """
    runs = (
        _SEPARATORS.sub("", match.group(0))
        for reading in _skeletons(text)
        for match in _SPACED_LETTERS.finditer(reading)
    )
    return list(dict.fromkeys(runs))


def skeleton(text: str) -> str:
    """Return ``text`` reduced to ASCII, before spaced-out letters are joined."""
    return _finish(_read_look_alikes(_visible(text)))


def _skeletons(text: str) -> list[str]:
    """Return the skeleton with look-alikes read as Latin, and the one transliterated."""
    visible = _visible(text)
    return list(dict.fromkeys([_finish(_read_look_alikes(visible)), _finish(visible)]))


def _visible(text: str) -> str:
    """Drop what cannot be seen (format characters, combining marks) and recompose."""
    text = unicodedata.normalize("NFKD", text[:MAX_CHARS])
    text = "".join(
        " " if character in "\t\n\r" else character
        for character in text
        if character in "\t\n\r" or unicodedata.category(character) not in _DROPPED_CATEGORIES
    )
    return unicodedata.normalize("NFKC", text)


def _finish(text: str) -> str:
    """Transliterate, case-fold, undo leetspeak and drop punctuation inside words."""
    text = anyascii(text.translate(_look_alikes().everywhere)).casefold()
    text = _BANG_AS_I.sub("i", text).translate(_LEET)
    return _WHITESPACE.sub(" ", _INNER_PUNCTUATION.sub("", text)).strip()


def _read_look_alikes(text: str) -> str:
    """Map other scripts' look-alikes to Latin in the words that are disguises."""
    parts = _WORDS_AND_SPACES.split(text)
    words = [_classify(part) for part in parts[::2]]
    table = _look_alikes().in_latin_words
    for index, genuine in enumerate(_genuine_words(words)):
        if not genuine:
            parts[2 * index] = parts[2 * index].translate(table)
    return "".join(parts)


def _genuine_words(words: list[_Word]) -> list[bool]:
    """Tell, for each word, whether it is read in its own script rather than as Latin."""
    before = _nearest_settled(words)
    after = _nearest_settled(words[::-1])[::-1]
    return [
        word.role == "genuine"
        or (
            word.role == "look-alike"
            and any(
                near is not None and near.role == "genuine" and near.script == word.script
                for near in (before[index], after[index])
            )
        )
        for index, word in enumerate(words)
    ]


def _nearest_settled(words: list[_Word]) -> list[_Word | None]:
    """Return, for each word, the nearest earlier word whose script is not in doubt."""
    nearest: list[_Word | None] = []
    settled: _Word | None = None
    for word in words:
        nearest.append(settled)
        if word.role not in ("look-alike", "blank"):
            settled = word
    return nearest


def _classify(word: str) -> _Word:
    """Tell how a word is written: Latin, mixed, only look-alikes, genuine, or no letters."""
    letters = [character for character in word if character.isalpha()]
    scripts = {_script(character) for character in letters}
    if not scripts:
        return _Word("blank")
    if len(scripts) > 1:
        return _Word("mixed" if scripts & _ALPHABETS else "genuine")
    (script,) = scripts
    if script == _LATIN:
        return _Word("latin")
    table = _look_alikes().in_latin_words
    if all(ord(character) in table for character in letters):
        return _Word("look-alike", script)
    return _Word("genuine", script)


def _script(character: str) -> str:
    """Name the script of a letter by the first word of its Unicode name (``CYRILLIC``)."""
    return unicodedata.name(character, "").split(" ", 1)[0]


def _join_spaced_letters(text: str) -> str:
    """Join runs of spaced-out single letters: ``n u d e`` becomes ``nude``."""
    return _SPACED_LETTERS.sub(lambda match: _SEPARATORS.sub("", match.group(0)), text)
