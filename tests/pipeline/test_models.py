"""The model catalog: every configured model's name, family, size and defaults, unloaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pipeline.config import GenerationSettings, ModelEntry, PipelineConfig
from pipeline.errors import ModelLoadError, ParameterError, UserError
from pipeline.families.base import ModelFamily, ModelTraits
from pipeline.models import ModelCatalog, profile_of

if TYPE_CHECKING:
    from pathlib import Path

SETTINGS = GenerationSettings()


@pytest.fixture(scope="module")
def catalog_config(
    tiny_model_dir: Path, tiny_sdxl_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> PipelineConfig:
    """Return a config of two models: the tiny SD folder, then the tiny SDXL one."""
    return PipelineConfig.model_validate(
        {
            "data_dir": str(tmp_path_factory.mktemp("data")),
            "models": [
                {"name": "tiny-sd", "path": str(tiny_model_dir), "device": "cpu"},
                {"name": "tiny-sdxl", "path": str(tiny_sdxl_dir), "device": "cpu", "steps": 9},
            ],
        }
    )


@pytest.fixture(scope="module")
def catalog(catalog_config: PipelineConfig) -> ModelCatalog:
    """Return the catalog of the two tiny models."""
    return ModelCatalog.from_config(catalog_config)


def entry(**values: Any) -> ModelEntry:
    """Return a model entry (a hub id, never looked up) with its own settings."""
    return ModelEntry.model_validate({"path": "someone/some-model", **values})


def test_the_catalog_reads_families_and_sizes_without_loading(
    catalog_config: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read each model's family, native size and weight size from its files alone."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the catalog loaded a model")

    monkeypatch.setattr(ModelFamily, "load", refuse)
    catalog = ModelCatalog.from_config(catalog_config)
    assert catalog.names == ["tiny-sd", "tiny-sdxl"]
    assert catalog.default == "tiny-sd"
    sd, sdxl = catalog.profile("tiny-sd"), catalog.profile("tiny-sdxl")
    assert (sd.family.name, sd.native_size) == ("sd", (32, 32))
    assert (sdxl.family.name, sdxl.native_size) == ("sdxl", (64, 64))
    assert sd.traits.weights_bytes > 0
    assert sdxl.defaults.steps == 9


def test_an_unknown_name_lists_the_models_and_suggests_a_close_one(catalog: ModelCatalog) -> None:
    """Refuse an unknown model with the user's error, a close name and every name."""
    with pytest.raises(ParameterError) as caught:
        catalog.profile("tiny-sdx")
    message = str(caught.value)
    assert "no model called 'tiny-sdx'" in message
    assert "Did you mean tiny-sdxl?" in message
    assert "Models: tiny-sd, tiny-sdxl" in message
    assert isinstance(caught.value, UserError)


def test_an_unknown_name_far_from_any_gets_no_suggestion(catalog: ModelCatalog) -> None:
    """List the models without guessing when no name is close."""
    with pytest.raises(ParameterError) as caught:
        catalog.profile("flux-pro-ultra")
    assert "Did you mean" not in str(caught.value)
    assert "tiny-sd, tiny-sdxl" in str(caught.value)


def test_names_are_found_whatever_their_case(catalog: ModelCatalog) -> None:
    """Find a model typed in another case, and suggest one misspelt in another case."""
    assert catalog.profile("TINY-SDXL").name == "tiny-sdxl"
    with pytest.raises(ParameterError, match="Did you mean tiny-sdxl"):
        catalog.profile("TINY-SDX")


def test_no_name_means_the_default_model(catalog: ModelCatalog) -> None:
    """Give a prompt naming no model (None or "") the default one."""
    assert catalog.profile(None).name == "tiny-sd"
    assert catalog.profile("").name == "tiny-sd"


def test_a_default_outside_the_catalog_is_refused() -> None:
    """Refuse to build a catalog whose default it does not hold."""
    profile = profile_of("sd", ModelTraits("sd", (512, 512)), None, SETTINGS)
    with pytest.raises(ValueError, match="'other'"):
        ModelCatalog([profile], "other")


def test_an_entry_overrides_its_familys_defaults() -> None:
    """Use an entry's own steps, guidance and sampler over the server's defaults."""
    traits = ModelTraits("sdxl", (1024, 1024))
    plain = profile_of("xl", traits, None, SETTINGS).defaults
    tuned = profile_of(
        "xl", traits, entry(steps=12, guidance=3.5, sampler="dpm++ 2m karras"), SETTINGS
    ).defaults
    assert (plain.steps, plain.guidance, plain.sampler) == (25, 7.0, "Euler a")
    assert (tuned.steps, tuned.guidance, tuned.sampler) == (12, 3.5, "DPM++ 2M Karras")


def test_an_entry_overrides_only_what_it_says() -> None:
    """Keep the family's defaults for whatever the entry leaves out."""
    defaults = profile_of("sd", ModelTraits("sd", (512, 512)), entry(steps=8), SETTINGS).defaults
    assert (defaults.steps, defaults.guidance, defaults.sampler) == (8, 7.0, "Euler a")


@pytest.mark.parametrize(
    ("family", "sampler", "label"),
    [("flux", "Euler a", "FLUX.1"), ("sd", "Flow Euler", "Stable Diffusion 1/2")],
)
def test_an_entry_sampler_its_family_cannot_use_is_refused(
    family: str, sampler: str, label: str
) -> None:
    """Refuse an entry's sampler that its family cannot run, naming the family."""
    with pytest.raises(ModelLoadError) as caught:
        profile_of("m", ModelTraits(family, (512, 512)), entry(sampler=sampler), SETTINGS)
    assert f"the model m is {label}" in str(caught.value)
    assert sampler in str(caught.value)


@pytest.mark.parametrize(
    ("guidance_embedded", "steps", "guidance"), [(False, 4, 0.0), (True, 28, 3.5)]
)
def test_flux_entries_get_flux_defaults(
    guidance_embedded: bool, steps: int, guidance: float
) -> None:
    """Give schnell-like and dev-like FLUX models their own defaults, not the UNet ones."""
    traits = ModelTraits("flux", (1024, 1024), guidance_embedded=guidance_embedded)
    profile = profile_of("flux", traits, None, SETTINGS)
    assert (profile.defaults.steps, profile.defaults.guidance) == (steps, guidance)
    assert profile.defaults.sampler == "Flow Euler"
    assert profile.accepts_guidance is guidance_embedded


def test_a_flux_entry_can_still_set_its_own_steps() -> None:
    """Let a FLUX entry override the family's step count."""
    profile = profile_of("flux", ModelTraits("flux", (1024, 1024)), entry(steps=6), SETTINGS)
    assert (profile.defaults.steps, profile.defaults.sampler) == (6, "Flow Euler")


def test_an_entry_asking_more_steps_than_the_limit_is_refused() -> None:
    """Refuse an entry whose steps exceed generation.max_steps, naming both."""
    with pytest.raises(ModelLoadError, match=r"steps: 80, more than generation\.max_steps"):
        profile_of("m", ModelTraits("sd", (512, 512)), entry(steps=80), SETTINGS)
