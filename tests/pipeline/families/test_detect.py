"""Telling a model's family from its files, and refusing the architectures Easel does not run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import torch
from safetensors.torch import save_file

from pipeline.config import ModelSettings
from pipeline.errors import ModelLoadError
from pipeline.families.detect import family_of_checkpoint, read_traits
from tests.pipeline.ldm_checkpoint import save_ldm_checkpoint
from tests.pipeline.sdxl_checkpoint import save_sdxl_single_file
from tests.pipeline.tiny_families import build_tiny_sdxl_pipeline
from tests.pipeline.tiny_model import build_tiny_pipeline

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.families.base import ModelTraits

SUPPORTED = r"Supported: Stable Diffusion 1/2 \(sd\), SDXL \(sdxl\), FLUX\.1 \(flux\)"


@pytest.fixture(scope="module")
def sdxl_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the tiny SDXL pipeline as one original-layout checkpoint."""
    path = tmp_path_factory.mktemp("checkpoints") / "tiny-sdxl.safetensors"
    return save_sdxl_single_file(build_tiny_sdxl_pipeline(), path)


@pytest.fixture(scope="module")
def sd_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the tiny SD pipeline as one original-layout checkpoint."""
    path = tmp_path_factory.mktemp("checkpoints") / "tiny-sd.safetensors"
    return save_ldm_checkpoint(build_tiny_pipeline(), path)


def traits(path: Path, config: Path | None = None) -> ModelTraits:
    """Read the traits of a local model, as the catalog does at start-up."""
    settings = ModelSettings(path=str(path), config=None if config is None else str(config))
    return read_traits(settings, path.parent / "cache")


def pipeline_folder(folder: Path, class_name: str) -> Path:
    """Write a folder whose model_index.json names ``class_name``, and nothing else."""
    folder.mkdir()
    index = {"_class_name": class_name, "_diffusers_version": "0.42.1"}
    (folder / "model_index.json").write_text(json.dumps(index), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("fixture", "family", "side", "guidance"),
    [
        ("tiny_model_dir", "sd", 32, False),
        ("tiny_sdxl_dir", "sdxl", 64, False),
        ("tiny_flux_dir", "flux", 64, False),
        ("tiny_flux_dev_dir", "flux", 64, True),
    ],
)
def test_folder_traits_give_family_and_native_size(
    request: pytest.FixtureRequest, fixture: str, family: str, side: int, guidance: bool
) -> None:
    """Read each tiny folder's family, native size and guidance input from its configs."""
    found = traits(request.getfixturevalue(fixture))
    assert (found.family, found.native_size, found.guidance_embedded) == (
        family,
        (side, side),
        guidance,
    )
    assert found.weights_bytes > 0


def test_sdxl_single_file_is_detected_from_its_tensor_names(sdxl_file: Path) -> None:
    """Tell an original-layout SDXL checkpoint by its second text encoder's names."""
    assert family_of_checkpoint(sdxl_file) == "sdxl"


def test_sd_single_file_is_detected_from_its_tensor_names(sd_file: Path) -> None:
    """Tell an original-layout SD checkpoint by its CLIP text encoder's names."""
    assert family_of_checkpoint(sd_file) == "sd"


def test_single_file_reads_its_native_size_from_the_config_folder(
    sdxl_file: Path, tiny_sdxl_dir: Path
) -> None:
    """Take a single file's native size from its config: folder, else the family's default."""
    assert traits(sdxl_file, tiny_sdxl_dir).native_size == (64, 64)
    assert traits(sdxl_file).native_size == (1024, 1024)


@pytest.mark.parametrize(
    ("class_name", "label"),
    [("StableDiffusion3Pipeline", "Stable Diffusion 3"), ("PixArtAlphaPipeline", "PixArt")],
)
def test_unsupported_pipeline_folder_is_refused_by_name(
    tmp_path: Path, class_name: str, label: str
) -> None:
    """Refuse a folder of another architecture, naming it and the supported families."""
    folder = pipeline_folder(tmp_path / "other", class_name)
    with pytest.raises(ModelLoadError, match=rf"is {label} \({class_name}\)") as refused:
        traits(folder)
    assert refused.match(SUPPORTED)


def test_checkpoint_with_unknown_tensor_names_is_refused(tmp_path: Path) -> None:
    """Refuse a .safetensors file whose tensors match no known layout, listing the families."""
    path = tmp_path / "mystery.safetensors"
    save_file({"encoder.layer.0.weight": torch.zeros(2, 2)}, str(path))
    with pytest.raises(ModelLoadError, match=r"mystery\.safetensors is not a checkpoint layout"):
        traits(path)


def test_checkpoint_with_another_familys_config_is_refused(
    sdxl_file: Path, tiny_model_dir: Path
) -> None:
    """Refuse an SDXL file whose config: folder is an SD model, naming both families."""
    with pytest.raises(ModelLoadError, match=r"SDXL checkpoint.*Stable Diffusion 1/2 model"):
        traits(sdxl_file, tiny_model_dir)


def test_folder_without_model_index_is_refused_helpfully(tmp_path: Path) -> None:
    """Refuse a folder that is no diffusers pipeline, saying how to point at a single file."""
    folder = tmp_path / "loose"
    folder.mkdir()
    with pytest.raises(ModelLoadError, match=r"no model_index\.json.*single \.safetensors file"):
        traits(folder)
