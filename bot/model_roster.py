"""What the bot tells members about the configured models: names, families, sizes, loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipeline.model_pool import ModelResidency
    from pipeline.models import ModelCatalog

AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 choices


@dataclass(frozen=True)
class ModelLine:
    """One model as /models lists it."""

    name: str
    family: str
    native_size: tuple[int, int]
    loaded: bool
    default: bool


class ModelRoster:
    """The catalog of configured models and the workers that may have them loaded."""

    def __init__(self, catalog: ModelCatalog, pools: Sequence[ModelResidency]) -> None:
        self._catalog = catalog
        self._pools = list(pools)

    def lines(self) -> list[ModelLine]:
        """Describe every configured model, in config order."""
        return [
            ModelLine(
                name=profile.name,
                family=profile.family.label,
                native_size=profile.native_size,
                loaded=any(pool.has_loaded(profile.name) for pool in self._pools),
                default=profile.name == self._catalog.default,
            )
            for profile in self._catalog
        ]

    def matching(self, typed: str) -> list[str]:
        """Return the model names containing what the user typed so far (for autocomplete)."""
        needle = typed.casefold().strip()
        names = [name for name in self._catalog.names if needle in name.casefold()]
        return names[:AUTOCOMPLETE_LIMIT]

    def family_of(self, model: str) -> str:
        """Return a configured model's family name; an unknown model is the user's error."""
        return self._catalog.profile(model).traits.family
