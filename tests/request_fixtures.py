"""Model profiles for tests that build requests without loading a model."""

from __future__ import annotations

from pipeline.config import GenerationSettings
from pipeline.families.base import ModelTraits
from pipeline.models import ModelProfile, profile_of


def sd_profile(
    native_size: tuple[int, int] = (512, 512), settings: GenerationSettings | None = None
) -> ModelProfile:
    """Return the profile of a Stable Diffusion model of that native size, named ``sd``."""
    return profile_of("sd", ModelTraits("sd", native_size), None, settings or GenerationSettings())
