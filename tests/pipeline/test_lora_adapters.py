"""LoRAs on a loaded model: their effect, weight 0, no leakage, both layouts, every family."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest

from pipeline.batching import batch_key
from pipeline.engine import Engine
from pipeline.errors import ParameterError
from pipeline.lora_adapters import adapter_name

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.config import PipelineConfig
    from pipeline.loras import LoraCatalog


def pixels(engine: Engine, text: str) -> np.ndarray:
    """Draw one image of ``text`` at seed 3 and return its pixels."""
    request = replace(engine.parse(f"{text} --seed 3"), num_images=1)
    return np.asarray(engine.generate(request).images[0]).astype(int)


def test_a_lora_changes_the_image(lora_engine: Engine) -> None:
    """Draw something else with a LoRA than without it."""
    assert (
        np.abs(pixels(lora_engine, "a fox --lora sd-ink") - pixels(lora_engine, "a fox")).mean() > 5
    )


def test_a_lora_at_weight_zero_gives_exactly_the_pixels_without_it(lora_engine: Engine) -> None:
    """Give a LoRA at weight 0 exactly the no-LoRA pixels."""
    plain = pixels(lora_engine, "a fox")
    assert np.array_equal(pixels(lora_engine, "a fox --lora sd-ink:0"), plain)


def test_a_job_without_loras_after_one_with_them_is_unchanged(lora_engine: Engine) -> None:
    """Leave nothing of an earlier job's LoRAs in a later job without any."""
    before = pixels(lora_engine, "a fox")
    pixels(lora_engine, "a fox --lora sd-ink --lora sd-blur:0.5")
    assert np.array_equal(pixels(lora_engine, "a fox"), before)


def test_the_kohya_and_diffusers_layouts_of_one_lora_draw_alike(lora_engine: Engine) -> None:
    """Load kohya's key layout to the same effect as diffusers' for the same weights."""
    diffusers = pixels(lora_engine, "a fox --lora sd-ink")
    kohya = pixels(lora_engine, "a fox --lora sd-ink-kohya")
    assert np.abs(diffusers - kohya).max() <= 1


def test_a1111_syntax_draws_what_lora_parameters_draw(lora_engine: Engine) -> None:
    """Draw <lora:NAME:WEIGHT> in the prompt exactly as --lora NAME:WEIGHT."""
    tagged = pixels(lora_engine, "a fox <lora:sd-ink:0.7>")
    assert np.array_equal(tagged, pixels(lora_engine, "a fox --lora sd-ink:0.7"))


def test_a_weight_scales_the_effect(lora_engine: Engine) -> None:
    """Change the image less at weight 0.3 than at weight 1."""
    plain = pixels(lora_engine, "a fox")
    light = np.abs(pixels(lora_engine, "a fox --lora sd-ink:0.3") - plain).mean()
    full = np.abs(pixels(lora_engine, "a fox --lora sd-ink") - plain).mean()
    assert 0 < light < full


def test_two_loras_at_once_differ_from_each_alone(lora_engine: Engine) -> None:
    """Apply both LoRAs of a job, not only the first."""
    both = pixels(lora_engine, "a fox --lora sd-ink --lora sd-blur")
    assert not np.array_equal(both, pixels(lora_engine, "a fox --lora sd-ink"))
    assert not np.array_equal(both, pixels(lora_engine, "a fox --lora sd-blur"))


def test_a_lora_is_read_from_disk_once_per_model(
    tiny_config: PipelineConfig, lora_catalog: LoraCatalog
) -> None:
    """Load each LoRA file once, however many jobs use it."""
    engine = Engine.from_config(tiny_config, loras=lora_catalog)
    for weight in ("1", "0.5", "1"):
        pixels(engine, f"a fox --lora sd-ink:{weight}")
        pixels(engine, "a fox")
    assert engine.loras.loaded == [adapter_name("sd-ink")]


def test_a_batch_of_one_lora_set_never_shares_a_call_with_another(lora_engine: Engine) -> None:
    """Keep jobs with different LoRAs or weights in different pipeline calls."""
    keys = {
        batch_key(lora_engine.parse(text))
        for text in ("a fox", "a fox --lora sd-ink", "a fox --lora sd-ink:0.5")
    }
    assert len(keys) == 3


def test_an_unknown_lora_is_refused_with_the_closest_names(lora_engine: Engine) -> None:
    """Refuse an unknown name, suggesting the names it is close to."""
    with pytest.raises(ParameterError, match="Did you mean sd-ink"):
        lora_engine.parse("a fox --lora sd-inc")


def test_a_lora_of_another_family_is_refused_by_name(lora_engine: Engine) -> None:
    """Refuse an SDXL LoRA on an SD model, saying both families."""
    with pytest.raises(ParameterError, match="`xl-ink` is an SDXL LoRA; this job uses"):
        lora_engine.parse("a fox --lora xl-ink")


def test_an_sdxl_lora_changes_an_sdxl_image(
    tiny_sdxl_dir: Path, lora_catalog: LoraCatalog, tiny_config: PipelineConfig
) -> None:
    """Apply an SDXL LoRA (both text encoders) on the tiny SDXL model, and undo it exactly."""
    engine = _engine_on(tiny_sdxl_dir, tiny_config, lora_catalog)
    plain = pixels(engine, "a fox")
    assert np.abs(pixels(engine, "a fox --lora xl-ink") - plain).mean() > 1
    assert np.array_equal(pixels(engine, "a fox"), plain)


def test_a_flux_lora_changes_a_flux_image(
    tiny_flux_dir: Path, lora_catalog: LoraCatalog, tiny_config: PipelineConfig
) -> None:
    """Apply a FLUX LoRA (transformer) on the tiny FLUX model, and undo it exactly."""
    engine = _engine_on(tiny_flux_dir, tiny_config, lora_catalog)
    plain = pixels(engine, "a fox")
    assert np.abs(pixels(engine, "a fox --lora flux-ink") - plain).mean() > 1
    assert np.array_equal(pixels(engine, "a fox"), plain)


def _engine_on(folder: Path, config: PipelineConfig, catalog: LoraCatalog) -> Engine:
    """Load an engine on another tiny model with the same fast settings and LoRAs."""
    entry = config.default_model.model_copy(update={"path": str(folder), "name": folder.name})
    return Engine.from_config(config, entry, loras=catalog)


def test_two_engines_over_one_model_agree_on_its_loras(
    lora_engine: Engine, lora_catalog: LoraCatalog
) -> None:
    """Draw without LoRAs on one engine after another engine over the same model used one."""
    twin = Engine(
        lora_engine.model, lora_engine.settings, lora_engine.input_limits, loras=lora_catalog
    )
    plain = pixels(lora_engine, "a fox")
    pixels(twin, "a fox --lora sd-ink")
    assert np.array_equal(pixels(lora_engine, "a fox"), plain)
