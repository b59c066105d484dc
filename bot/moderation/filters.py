"""Prompt filters: words, phrases and moderator regexes, matched so disguises do not help.

Every filter is compiled to a Google RE2 expression, which runs in time linear in the text
whatever the pattern, so no moderator input can stall the bot; patterns RE2 cannot run in
linear time (backreferences, lookarounds) are refused when saved, with the reason.

Words and phrases are normalised like the text and matched as whole words, each letter
allowed to repeat (``n+u+d+e+``): ``nuuude`` is caught, ``classic``, ``bass`` and
``Scunthorpe`` are not mistaken for ``ass``. Text and filters alike are read both with
look-alikes taken as Latin and plainly transliterated (``normalise.readings``), and a filter
matches when any reading of it is found in any reading of the text or in the case-folded
original: Greek ``νude`` is caught as ``nude``, and a filter written in another script
matches text in that script whether that text is read as that script or as look-alikes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import re2

from bot.moderation.normalise import normalise, readings, spaced_runs
from pipeline.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Sequence

FilterKind = Literal["word", "phrase", "regex"]
FilterAction = Literal["block", "flag"]
MAX_PATTERN_CHARS = 300
_RE2_MEMORY = 8 << 20


class FilterError(UserError):
    """A filter pattern cannot be used; the message says why."""


@dataclass(frozen=True)
class Filter:
    """A saved filter: what it matches, what happens on a match, who added it and when.

    ``label`` names the class of terms for built-in filters ("nudity"); moderators' own
    filters have none.
    """

    id: int
    pattern: str
    kind: FilterKind
    action: FilterAction
    added_by: str
    added_at: float
    label: str = ""

    def describe(self) -> str:
        """Name the filter for users and moderators."""
        return self.label or f"{self.kind} filter #{self.id}"


@dataclass(frozen=True)
class Verdict:
    """What the filters found in a set of texts."""

    blocking: tuple[Filter, ...]
    flagging: tuple[Filter, ...]
    normalised: str

    @property
    def blocked(self) -> bool:
        """Tell whether any blocking filter matched."""
        return bool(self.blocking)

    @property
    def flagged(self) -> bool:
        """Tell whether only flagging filters matched."""
        return not self.blocking and bool(self.flagging)


@functools.lru_cache(maxsize=4096)
def compile_filter(pattern: str, kind: FilterKind, *, bounded: bool = True) -> Any:  # no types
    """Compile a filter (cached), or raise :class:`FilterError` saying why it cannot be used.

    ``bounded=False`` drops the word boundaries of word and phrase filters, for searching
    inside runs of spaced-out letters.
    """
    pattern = pattern.strip()
    if not pattern:
        raise FilterError("The pattern is empty.")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise FilterError(
            f"The pattern is {len(pattern)} characters; the limit is {MAX_PATTERN_CHARS}."
        )
    if kind == "regex":
        source = pattern
    else:
        pattern_readings = readings(pattern)
        if not any(character.isalnum() for text in pattern_readings for character in text):
            raise FilterError("The pattern has no letters or digits left to match.")
        bodies = (_body(text, kind) for text in pattern_readings)
        body = "|".join(dict.fromkeys(body for body in bodies if body))
        source = rf"\b(?:{body})\b" if bounded else body
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _RE2_MEMORY
    try:
        return re2.compile(source, options)
    except re2.error as error:
        reason = (
            error.args[0].decode()
            if error.args and isinstance(error.args[0], bytes)
            else str(error)
        )
        raise FilterError(
            f"That regex cannot be used: {reason}. Filters run on RE2, which has no "
            "backreferences or lookarounds (so no pattern can make matching slow)."
        ) from None


def check(texts: Sequence[str], filters: Sequence[Filter]) -> Verdict:
    """Match ``texts`` (prompt, negative prompt, parameters) against ``filters``."""
    originals = [text.casefold() for text in texts]
    normalised = [normalise(text) for text in texts]
    candidates = [reading for text in texts for reading in readings(text)] + originals
    runs = [run for text in texts for run in spaced_runs(text)]
    blocking: list[Filter] = []
    flagging: list[Filter] = []
    for item in filters:
        matcher = compile_filter(item.pattern, item.kind)
        inside_runs = compile_filter(item.pattern, item.kind, bounded=False)
        if any(matcher.search(text) for text in candidates) or any(
            inside_runs.search(run) for run in runs
        ):
            (blocking if item.action == "block" else flagging).append(item)
    return Verdict(tuple(blocking), tuple(flagging), " | ".join(t for t in normalised if t))


def describe_verdict(verdict: Verdict) -> str:
    """Write the /filter test answer: Blocked or Allowed, the filters, the normalised text."""
    if verdict.blocked:
        head = "Blocked by " + ", ".join(
            f.describe() + f" (`{f.pattern}`)" for f in verdict.blocking
        )
    elif verdict.flagged:
        head = "Allowed, but flagged by " + ", ".join(
            f.describe() + f" (`{f.pattern}`)" for f in verdict.flagging
        )
    else:
        head = "Allowed: no filter matches"
    return f"{head}.\nNormalised text: `{verdict.normalised[:1500]}`"


def _body(reading: str, kind: FilterKind) -> str:
    """Build the expression for one reading of a word or phrase filter."""
    words = reading.split() if kind == "phrase" else [reading.replace(" ", "")]
    return r"\s*".join(_repeatable(word) for word in words if word)


def _repeatable(word: str) -> str:
    """Let each letter of a word repeat, so doubled letters stay significant."""
    return "".join(re.escape(character) + "+" for character in word)
