"""FLUX fine-tunes as one transformer-only file in BFL's layout, completed by ``config:``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import torch

from pipeline.config import ModelSettings, PipelineConfig
from pipeline.engine import Engine
from pipeline.errors import ModelLoadError
from pipeline.families.detect import read_traits
from pipeline.families.flux_file import convert_original_transformer, original_transformer_tensors
from pipeline.loading import load_model
from tests.pipeline.flux_checkpoint import flux_transformer_tensors, save_flux_transformer_file
from tests.pipeline.tiny_families import FLUX_SIZE, build_tiny_flux_pipeline

if TYPE_CHECKING:
    from pathlib import Path

PREFIX = "model.diffusion_model."


@pytest.fixture(scope="module")
def flux_file(flux_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the folder engine's own transformer as a prefixed BFL file, as trainers save it."""
    path = tmp_path_factory.mktemp("checkpoints") / "tiny-flux.safetensors"
    return save_flux_transformer_file(flux_engine.model.txt2img.transformer, path, PREFIX)


def test_conversion_restores_every_weight_exactly(flux_engine: Engine) -> None:
    """Undo the BFL layout bit for bit: fused projections, norm names, the swapped halves."""
    transformer = flux_engine.model.txt2img.transformer
    converted = convert_original_transformer(flux_transformer_tensors(transformer))
    expected = transformer.state_dict()
    assert converted.keys() == expected.keys()
    assert all(torch.equal(converted[key], expected[key]) for key in expected)


def test_other_models_in_a_full_file_are_left_out(flux_engine: Engine, tmp_path: Path) -> None:
    """Keep only the transformer of a full checkpoint: config: provides the encoders and VAE."""
    original = flux_transformer_tensors(flux_engine.model.txt2img.transformer, PREFIX)
    others = {"text_encoders.clip_l.transformer.x.weight": torch.zeros(1), "vae.x": torch.zeros(1)}
    kept = original_transformer_tensors(original | others, tmp_path / "full.safetensors")
    assert kept.keys() == {key.removeprefix(PREFIX) for key in original}


@pytest.mark.parametrize("with_config", [False, True])
def test_file_is_detected_as_flux(flux_file: Path, tiny_flux_dir: Path, with_config: bool) -> None:
    """Tell FLUX from the file's names; take size and guidance from config: when it is set."""
    config = str(tiny_flux_dir) if with_config else None
    traits = read_traits(ModelSettings(path=str(flux_file), config=config), flux_file.parent)
    assert traits.family == "flux"
    assert traits.guidance_embedded is False
    assert traits.native_size == ((FLUX_SIZE, FLUX_SIZE) if with_config else (1024, 1024))


def test_file_loads_offline_and_draws_like_the_folder(
    flux_engine: Engine, flux_file: Path, tiny_flux_dir: Path, tmp_path: Path
) -> None:
    """Load the transformer from the file and the rest from config:, and draw the same pixels."""
    config = PipelineConfig.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "model": {
                "path": str(flux_file),
                "config": str(tiny_flux_dir),
                "name": "tiny-flux",
                "device": "cpu",
                "cpu_threads": 1,
            },
            "generation": {"steps": 4, "sampler": "Euler", "guidance": 5.0},
        }
    )
    from_file = Engine.from_config(config)
    assert from_file.model.family.name == "flux"
    assert type(from_file.model.txt2img).__name__ == "FluxPipeline"
    request = flux_engine.parse("a red circle --seed 4 --steps 2")
    drawn = [image.tobytes() for image in from_file.generate(request).images]
    assert drawn == [image.tobytes() for image in flux_engine.generate(request).images]


def test_file_without_config_is_refused_naming_the_key(flux_file: Path, tmp_path: Path) -> None:
    """Refuse a transformer-only file with no config:, saying which key to set and to what."""
    settings = ModelSettings(path=str(flux_file), device="cpu", cpu_threads=1)
    expected = r"reads only the transformer: set the model's config: key.*FLUX\.1-schnell"
    with pytest.raises(ModelLoadError, match=expected):
        load_model(settings, tmp_path / "cache")


def test_dev_file_with_a_schnell_config_is_refused(tiny_flux_dir: Path, tmp_path: Path) -> None:
    """Refuse a guidance input the config's transformer lacks, rather than drop it silently."""
    dev = build_tiny_flux_pipeline(guidance_embeds=True).transformer
    path = save_flux_transformer_file(dev, tmp_path / "tiny-flux-dev.safetensors")
    settings = ModelSettings(path=str(path), config=str(tiny_flux_dir), device="cpu", cpu_threads=1)
    with pytest.raises(ModelLoadError, match=r"guidance_embeds True \(config: False\).*dev"):
        load_model(settings, tmp_path / "cache")
