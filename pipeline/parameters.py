"""Find the ``--name value`` parameters written inside a prompt, and read their numbers.

``a fox --ar 16:9 --no people`` splits into the prompt ``a fox`` and the raw values
``{"ar": "16:9", "no": "people"}``; :mod:`pipeline.request` checks what each value means.
Every parameter may be given once, except ``--lora``, which names one LoRA each time.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pipeline.errors import ParameterError

# Phones turn "--" into an em or en dash; accept those so "—ar 16:9" works as typed.
_PARAMETER_START = re.compile(r"(?:^|(?<=\s))(?:--|\u2014|\u2013)([A-Za-z][\w-]*)")
_WHOLE_NUMBER = re.compile(r"^\+?\d{1,20}$", re.ASCII)
_DECIMAL = re.compile(r"^[+-]?(?:\d{1,20}(?:\.\d{0,20})?|\.\d{1,20})$", re.ASCII)
_ALIASES = {
    "aspect": "ar",
    "c": "chaos",
    "guidance": "cfg",
    "negative": "no",
    "q": "quality",
    "r": "repeat",
    "s": "stylize",
    "version": "v",
}
KNOWN_PARAMETERS = (
    "ar",
    "seed",
    "no",
    "steps",
    "cfg",
    "strength",
    "sampler",
    "tile",
    "model",
    "quality",
    "stylize",
    "iw",
    "v",
    "niji",
    "stop",
    "style",
    "chaos",
    "repeat",
    "lora",
    "control",
    "cw",
    "fast",
)
REPEATABLE = ("lora",)


@dataclass(frozen=True)
class InlineParameters:
    """The raw ``--name value`` pairs found in a prompt, before validation."""

    prompt: str
    values: dict[str, str]
    loras: tuple[str, ...] = ()  # every ``--lora`` value, in order


def split_parameters(text: str) -> InlineParameters:
    """Split ``text`` into the prompt and its ``--name value`` parameters (values unchecked)."""
    matches = list(_PARAMETER_START.finditer(text))
    prompt = text[: matches[0].start()] if matches else text
    values: dict[str, str] = {}
    loras: list[str] = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name = match.group(1).lower()
        name = _ALIASES.get(name, name)
        if name not in KNOWN_PARAMETERS:
            known = ", ".join(f"--{known}" for known in KNOWN_PARAMETERS)
            raise ParameterError(
                f"Unknown parameter --{match.group(1)}. Known parameters: {known}."
            )
        value = unicodedata.normalize("NFKC", text[match.end() : end]).strip()
        if name in REPEATABLE:
            loras.append(value)
            continue
        if name in values:
            raise ParameterError(f"--{name} is given twice; give it once.")
        values[name] = value
    return InlineParameters(prompt=prompt.strip(), values=values, loras=tuple(loras))


def whole_number(text: str, name: str, low: int, high: int) -> int:
    """Parse a whole number within [low, high] or explain the allowed range."""
    if not _WHOLE_NUMBER.match(text) or not low <= int(text) <= high:
        raise ParameterError(
            f"--{name} must be a whole number from {low} to {high} (got {text!r:.40})."
        )
    return int(text)


def decimal(text: str, name: str, low: float, high: float) -> float:
    """Parse a finite decimal within [low, high] or explain the allowed range."""
    if not _DECIMAL.match(text) or not low <= float(text) <= high:
        raise ParameterError(
            f"--{name} must be a number from {low:g} to {high:g} (got {text!r:.40})."
        )
    return float(text)
