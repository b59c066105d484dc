"""Read which LoRAs a prompt asks for: ``--lora NAME[:WEIGHT]`` and A1111's ``<lora:NAME:WEIGHT>``.

Both spellings mean the same and may be mixed; A1111's tags are taken out of the prompt text
(the model never reads them). Weights run from -2 to 2 (default 1): a negative weight pushes
away from what the LoRA learned, as in A1111. Names are checked against the LoRA files
elsewhere (:mod:`pipeline.loras`); here only the syntax, the weights and the count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.errors import ParameterError
from pipeline.parameters import decimal

MAX_WEIGHT = 2.0
DEFAULT_WEIGHT = 1.0
# <lora:NAME> or <lora:NAME:WEIGHT>; A1111 also allows a third field (text-encoder weight),
# which is accepted and ignored, like Forge does.
_A1111_TAG = re.compile(r"<\s*lora\s*:\s*([^:<>]+?)\s*(?::\s*([^:<>]*?)\s*)?(?::[^<>]*)?>", re.I)
_NAME = re.compile(r"^[\w.+-]{1,64}$")


@dataclass(frozen=True)
class LoraUse:
    """One LoRA a job applies, by its file's name, at a weight."""

    name: str
    weight: float = DEFAULT_WEIGHT

    def tag(self) -> str:
        """Return A1111's spelling, which PNG Info tabs and Civitai read back."""
        return f"<lora:{self.name}:{self.weight:g}>"


def take_a1111_tags(prompt: str) -> tuple[str, list[LoraUse]]:
    """Return the prompt without its ``<lora:…>`` tags, and the LoRAs they name."""
    uses = [
        _use(match.group(1), match.group(2), "<lora:…>") for match in _A1111_TAG.finditer(prompt)
    ]
    cleaned = re.sub(r"\s{2,}", " ", _A1111_TAG.sub(" ", prompt)).strip()
    return cleaned, uses


def read_lora_values(values: tuple[str, ...]) -> list[LoraUse]:
    """Parse each ``--lora`` value: ``NAME`` or ``NAME:WEIGHT``."""
    uses: list[LoraUse] = []
    for value in values:
        if not value:
            raise ParameterError(
                "--lora needs a name, like --lora pixelart or --lora pixelart:0.8."
            )
        name, _, weight = value.rpartition(":") if ":" in value else (value, "", "")
        uses.append(_use(name, weight or None, "--lora"))
    return uses


def merge_uses(uses: list[LoraUse], limit: int) -> tuple[LoraUse, ...]:
    """Refuse a LoRA named twice or more LoRAs than the server allows; keep the order given."""
    seen: set[str] = set()
    for use in uses:
        if use.name.casefold() in seen:
            raise ParameterError(f"The LoRA {use.name} is named twice; name it once.")
        seen.add(use.name.casefold())
    if len(uses) > limit:
        raise ParameterError(
            f"This job names {len(uses)} LoRAs; this server allows at most {limit} per job."
        )
    return tuple(uses)


def _use(name: str, weight: str | None, spelling: str) -> LoraUse:
    """Check one LoRA's name and weight."""
    name = name.strip()
    if not _NAME.match(name):
        raise ParameterError(
            f"{spelling}: {name!r:.40} is not a LoRA name (letters, digits, '.', '_', '+', '-')."
        )
    if weight is None or not weight.strip():
        return LoraUse(name)
    return LoraUse(name, decimal(weight.strip(), f"lora {name}", -MAX_WEIGHT, MAX_WEIGHT))
