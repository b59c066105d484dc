"""Model families: one module per architecture, behind the seam in :mod:`.base`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.families.flux import FluxFamily
from pipeline.families.sd import StableDiffusionFamily
from pipeline.families.sdxl import StableDiffusionXLFamily

if TYPE_CHECKING:
    from pipeline.families.base import ModelFamily

FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in (StableDiffusionFamily(), StableDiffusionXLFamily(), FluxFamily())
}


def family_named(name: str) -> ModelFamily:
    """Return the family called ``name`` (``sd``, ``sdxl`` or ``flux``)."""
    return FAMILIES[name]


def supported_families() -> str:
    """Say which families Easel runs, for error messages."""
    return ", ".join(f"{family.label} ({family.name})" for family in FAMILIES.values())
