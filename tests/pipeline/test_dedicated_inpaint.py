"""A model's ``inpaint:`` entry: its UNet (9 input channels) draws the edits instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import torch
from diffusers import UNet2DConditionModel
from PIL import Image

from pipeline.config import PipelineConfig
from pipeline.edit_requests import EditRequests
from pipeline.engine import Engine
from pipeline.errors import ModelLoadError

if TYPE_CHECKING:
    from pathlib import Path


def save_inpainting_unet(tiny_model_dir: Path, folder: Path) -> Path:
    """Save a random inpainting UNet (latents, mask, masked image: 9 channels) like the tiny one."""
    config = dict(UNet2DConditionModel.load_config(tiny_model_dir / "unet"))
    torch.manual_seed(1)
    UNet2DConditionModel.from_config({**config, "in_channels": 9}).save_pretrained(folder / "unet")
    return folder


def engine_with(tiny_config: PipelineConfig, inpaint: str) -> Engine:
    """Load the tiny model with an inpaint: entry."""
    assert tiny_config.model is not None
    data = tiny_config.model_dump()
    data["model"]["inpaint"] = inpaint
    return Engine.from_config(PipelineConfig.model_validate(data))


def test_edits_draw_with_the_dedicated_inpainting_unet(
    tiny_config: PipelineConfig, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Load the inpaint: model's UNet for edits only, and zoom out with it."""
    engine = engine_with(tiny_config, str(save_inpainting_unet(tiny_model_dir, tmp_path / "inp")))
    assert engine.model.inpaint.unet.config.in_channels == 9
    assert engine.model.txt2img.unet.config.in_channels == 4
    assert engine.model.inpaint.vae is engine.model.txt2img.vae
    source = engine.parse("a red circle --seed 2")
    path = tmp_path / "source.png"
    Image.new("RGB", (source.width, source.height), (200, 0, 0)).save(path)
    zoom = EditRequests(engine.requests).zoom(source, path, 2.0)
    assert len(engine.generate(zoom).images) == 4


def test_an_inpaint_entry_without_a_unet_is_a_load_error(
    tiny_config: PipelineConfig, tmp_path: Path
) -> None:
    """Say which inpaint: entry failed to load."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="inpaint:"):
        engine_with(tiny_config, str(tmp_path / "empty"))
