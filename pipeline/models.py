"""The configured models as prompts see them: names, families, sizes and defaults.

A :class:`ModelCatalog` is built at start-up from the config by reading each model's files
(never its weights), so a prompt can be parsed, checked and queued for a model that is not
loaded yet; the queue loads it when its turn comes (:mod:`pipeline.model_pool`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.errors import ModelLoadError, ParameterError
from pipeline.families import family_named
from pipeline.families.detect import read_traits

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipeline.config import GenerationSettings, ModelEntry, PipelineConfig
    from pipeline.families.base import ModelDefaults, ModelFamily, ModelTraits


@dataclass(frozen=True)
class ModelProfile:
    """One configured model, as far as parsing a prompt for it needs."""

    name: str
    family: ModelFamily
    traits: ModelTraits
    defaults: ModelDefaults
    controlnets: tuple[str, ...] = ()  # the modes the entry has a ControlNet for
    aspect_menu: tuple[str, ...] = ()  # compiled models: --ar snaps to the nearest of these

    @property
    def native_size(self) -> tuple[int, int]:
        """Return the (width, height) the model was trained at."""
        return self.traits.native_size

    @property
    def accepts_guidance(self) -> bool:
        """Tell whether ``--cfg`` changes anything on this model."""
        return self.family.guidance_input(self.traits)


def profile_of(
    name: str, traits: ModelTraits, entry: ModelEntry | None, settings: GenerationSettings
) -> ModelProfile:
    """Combine a model's traits, its family's defaults and the entry's own overrides."""
    family = family_named(traits.family)
    base = family.defaults(traits, settings.steps, settings.guidance, settings.sampler)
    steps = entry.steps if entry is not None and entry.steps is not None else base.steps
    guidance = entry.guidance if entry is not None and entry.guidance is not None else base.guidance
    sampler = entry.sampler if entry is not None and entry.sampler is not None else base.sampler
    if sampler not in family.samplers:
        raise ModelLoadError(
            f"the model {name} is {family.label}, which cannot use the sampler {sampler}; "
            f"choose one of: {', '.join(family.samplers)}."
        )
    if entry is not None and entry.steps is not None and entry.steps > settings.max_steps:
        raise ModelLoadError(
            f"the model {name} sets steps: {entry.steps}, more than generation.max_steps "
            f"({settings.max_steps})."
        )
    # A family's own default (FLUX.1-dev's 28) yields to a server's lower limit.
    defaults = type(base)(min(steps, settings.max_steps), guidance, sampler)
    modes = tuple(entry.controlnets) if entry is not None else ()
    menu = entry.compiled.aspect_menu if entry is not None and entry.compile else ()
    return ModelProfile(name, family, traits, defaults, modes, menu)


class ModelCatalog:
    """The configured models by name, and which one a prompt gets when it names none."""

    def __init__(self, profiles: Sequence[ModelProfile], default: str) -> None:
        self._profiles = {profile.name: profile for profile in profiles}
        if default not in self._profiles:
            raise ValueError(f"the default model {default!r} is not in the catalog")
        self.default = default

    @classmethod
    def from_config(cls, config: PipelineConfig) -> ModelCatalog:
        """Read every configured model's files (not its weights); raise on one that is unusable."""
        profiles = [
            profile_of(
                entry.label,
                read_traits(entry, config.cache_dir_for(entry)),
                entry,
                config.generation,
            )
            for entry in config.model_entries
        ]
        return cls(profiles, config.default_model.label)

    @property
    def names(self) -> list[str]:
        """Return the model names, in config order."""
        return list(self._profiles)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._profiles.values())

    def profile(self, name: str | None) -> ModelProfile:
        """Return a model's profile (the default's for None or ""), or the user's error."""
        if not name:
            return self._profiles[self.default]
        if name in self._profiles:
            return self._profiles[name]
        folded = {known.casefold(): known for known in self._profiles}
        if name.casefold() in folded:
            return self._profiles[folded[name.casefold()]]
        close = difflib.get_close_matches(name.casefold(), list(folded), n=1)
        hint = f" Did you mean {folded[close[0]]}?" if close else ""
        raise ParameterError(
            f"There is no model called {name!r:.40} here.{hint} "
            f"Models: {', '.join(self.names)} (see /models)."
        )
