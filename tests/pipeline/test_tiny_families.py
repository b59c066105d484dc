"""Check the tiny SDXL and FLUX test models: they save, reload offline, draw and convert.

Every other family test builds on these models, so their own promises are checked here: the
folders reload through both diffusers entry points, drawing gives the native size, and the
single-file SDXL checkpoint is read back as SDXL base with the very same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch
from diffusers import (
    AutoPipelineForText2Image,
    DiffusionPipeline,
    FluxPipeline,
    StableDiffusionXLPipeline,
)
from diffusers.loaders.single_file_utils import (
    infer_diffusers_model_type,
    load_single_file_checkpoint,
)

from tests.pipeline.sdxl_checkpoint import save_sdxl_single_file
from tests.pipeline.tiny_families import (
    FLUX_SIZE,
    SDXL_SIZE,
    build_tiny_sdxl_pipeline,
    save_tiny_flux,
    save_tiny_sdxl,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PROMPTS = ["a red circle 🐱", "ein grüner Würfel"]
LOADERS = [DiffusionPipeline, AutoPipelineForText2Image]


@dataclass(frozen=True)
class SavedFlux:
    """A saved tiny FLUX folder and the variant it holds."""

    folder: Path
    guidance_embeds: bool


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Draw on one thread, as the engine tests do: on two shared CPUs a second one waits."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def sdxl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save the tiny SDXL pipeline once per session."""
    return save_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="session", params=[False, True], ids=["schnell-like", "dev-like"])
def flux(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SavedFlux:
    """Save each tiny FLUX variant once per session."""
    guidance_embeds: bool = request.param
    folder = tmp_path_factory.mktemp("models") / "tiny-flux"
    return SavedFlux(save_tiny_flux(folder, guidance_embeds=guidance_embeds), guidance_embeds)


@pytest.fixture(scope="session")
def sdxl_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the tiny SDXL pipeline as one original-layout file once per session."""
    path = tmp_path_factory.mktemp("checkpoints") / "tiny-sdxl.safetensors"
    return save_sdxl_single_file(build_tiny_sdxl_pipeline(), path)


def draw(pipe: Any, **options: Any) -> Any:
    """Draw the two prompts in 4 steps from a fixed seed, quietly."""
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(7)
    return pipe(PROMPTS, num_inference_steps=4, generator=generator, **options).images


@pytest.mark.parametrize("loader", LOADERS, ids=lambda loader: loader.__name__)
def test_sdxl_folder_reloads_and_draws_its_native_size(sdxl_dir: Path, loader: Any) -> None:
    """Reload the SDXL folder offline and draw a 2-image batch at 64×64 by default."""
    pipe = loader.from_pretrained(sdxl_dir, local_files_only=True)
    assert isinstance(pipe, StableDiffusionXLPipeline)
    images = draw(pipe)
    assert [image.size for image in images] == [(SDXL_SIZE, SDXL_SIZE)] * 2


@pytest.mark.parametrize("loader", LOADERS, ids=lambda loader: loader.__name__)
def test_flux_folder_reloads_and_draws(flux: SavedFlux, loader: Any) -> None:
    """Reload each FLUX folder offline and draw a 2-image batch at its native size."""
    pipe = loader.from_pretrained(flux.folder, local_files_only=True)
    assert isinstance(pipe, FluxPipeline)
    side = pipe.vae.config.sample_size
    images = draw(pipe, height=side, width=side)
    assert [image.size for image in images] == [(FLUX_SIZE, FLUX_SIZE)] * 2


def test_flux_variant_survives_a_reload(flux: SavedFlux) -> None:
    """Keep the dev-like variant's guidance embedding through a reload, and only its."""
    pipe = FluxPipeline.from_pretrained(flux.folder, local_files_only=True)
    assert pipe.transformer.config.guidance_embeds is flux.guidance_embeds
    assert hasattr(pipe.transformer.time_text_embed, "guidance_embedder") is flux.guidance_embeds


def test_sdxl_single_file_is_recognised_as_sdxl_base(sdxl_checkpoint: Path) -> None:
    """Write a file that diffusers' key markers classify as SDXL base."""
    checkpoint = load_single_file_checkpoint(str(sdxl_checkpoint))
    assert infer_diffusers_model_type(checkpoint) == "xl_base"


def test_sdxl_single_file_draws_like_its_folder(sdxl_checkpoint: Path, sdxl_dir: Path) -> None:
    """Load the single file offline and draw exactly the folder's pixels."""
    from_file = StableDiffusionXLPipeline.from_single_file(
        str(sdxl_checkpoint), config=str(sdxl_dir), local_files_only=True
    )
    from_folder = StableDiffusionXLPipeline.from_pretrained(sdxl_dir, local_files_only=True)
    pixels = draw(from_file, output_type="np")
    assert np.isfinite(pixels).all()
    np.testing.assert_array_equal(pixels, draw(from_folder, output_type="np"))


def test_sdxl_text_encoders_differ_in_width() -> None:
    """Give the two text encoders different widths, which the single-file loader needs."""
    pipe = build_tiny_sdxl_pipeline()
    first = pipe.text_encoder.config.hidden_size
    second = pipe.text_encoder_2.config.hidden_size
    assert first != second
    assert pipe.unet.config.cross_attention_dim == first + second
