"""LoRA fixtures for every test: tiny random LoRAs of each family on disk, and an engine.

``lora_dir`` holds, made once per session:

- ``sd-ink`` / ``sd-ink-kohya``: one random SD LoRA (UNet and text encoder) saved in the
  diffusers/PEFT layout and in kohya's, the same weights, for the tiny SD model;
- ``sd-blur``: a second SD LoRA, for jobs with two;
- ``xl-ink``: an SDXL LoRA (both text encoders) for the tiny SDXL model;
- ``flux-ink``: a FLUX LoRA (transformer) for the tiny FLUX model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pipeline.engine import Engine
from pipeline.loras import LoraCatalog
from tests.pipeline.lora_files import (
    load_sd_pipeline,
    save_random_flux_lora,
    save_random_lora,
)
from tests.pipeline.tiny_families import build_tiny_flux_pipeline, build_tiny_sdxl_pipeline

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.config import PipelineConfig


@pytest.fixture(scope="session")
def lora_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save the tiny random LoRAs of every family once per test session."""
    folder = tmp_path_factory.mktemp("loras")
    sd = load_sd_pipeline(tiny_model_dir)
    save_random_lora(sd, folder / "sd-ink.safetensors", seed=1, scale=3.0)
    save_random_lora(sd, folder / "sd-ink-kohya.safetensors", seed=1, scale=3.0, layout="kohya")
    save_random_lora(sd, folder / "sd-blur.safetensors", seed=5, scale=3.0, text_encoder=False)
    save_random_lora(build_tiny_sdxl_pipeline(), folder / "xl-ink.safetensors", seed=2, scale=3.0)
    save_random_flux_lora(
        build_tiny_flux_pipeline(), folder / "flux-ink.safetensors", seed=3, scale=4.0
    )
    (folder / "sd-ink.txt").write_text("inked, bold lines\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def lora_catalog(lora_dir: Path) -> LoraCatalog:
    """Return a catalog of the session's tiny LoRAs."""
    return LoraCatalog([lora_dir])


@pytest.fixture(scope="session")
def lora_engine(tiny_config: PipelineConfig, lora_catalog: LoraCatalog) -> Engine:
    """Load an engine on the tiny SD model that offers the tiny LoRAs (its own copy)."""
    return Engine.from_config(tiny_config, loras=lora_catalog)
