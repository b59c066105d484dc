"""Depth control: a configured depth model turns a member's image into a depth map."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from pydantic import ValidationError

from pipeline.config import PipelineConfig
from pipeline.depth import DepthEstimator
from pipeline.engine import Engine
from pipeline.errors import ModelLoadError
from tests.pipeline.control_files import save_tiny_controlnet
from tests.pipeline.depth_files import save_tiny_depth_model

if TYPE_CHECKING:
    from pathlib import Path


def photo(path: Path) -> Path:
    """Save an image with something in front of a background."""
    image = Image.new("RGB", (64, 48), (30, 60, 200))
    ImageDraw.Draw(image).ellipse((10, 10, 40, 40), fill=(220, 40, 40))
    image.save(path)
    return path


def test_a_depth_map_fills_the_range_at_the_asked_size(tmp_path: Path) -> None:
    """Return a grey RGB map of exactly the output size, stretched from 0 to 255."""
    estimator = DepthEstimator.load(
        str(save_tiny_depth_model(tmp_path / "dpt")), torch.device("cpu")
    )
    depth = estimator.depth_map(Image.open(photo(tmp_path / "photo.png")), (40, 24))
    pixels = np.asarray(depth)
    assert depth.size == (40, 24)
    assert depth.mode == "RGB"
    assert (pixels[..., 0] == pixels[..., 1]).all()
    assert (int(pixels.min()), int(pixels.max())) == (0, 255)


def test_a_folder_that_is_no_depth_model_is_a_load_error(tmp_path: Path) -> None:
    """Name control.depth_model when its folder holds no depth model."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match=r"control\.depth_model"):
        DepthEstimator.load(str(tmp_path / "empty"), torch.device("cpu"))


def test_a_depth_controlnet_without_a_depth_model_is_a_config_error(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse the config, naming control.depth_model, rather than feed photos as depth maps."""
    (tmp_path / "controlnet").mkdir()
    model = {"path": str(tiny_model_dir), "controlnets": {"depth": str(tmp_path / "controlnet")}}
    with pytest.raises(ValidationError, match=r"control\.depth_model"):
        PipelineConfig.model_validate({"data_dir": str(tmp_path), "model": model})


def test_a_depth_job_is_drawn_from_the_estimated_map(
    tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Draw a grid guided by the depth ControlNet from a member's photo."""
    controlnet = save_tiny_controlnet(tiny_engine, tmp_path / "controlnet")
    config = PipelineConfig.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "model": {
                "path": str(tiny_model_dir),
                "device": "cpu",
                "cpu_threads": 1,
                "controlnets": {"depth": str(controlnet)},
            },
            "control": {"depth_model": str(save_tiny_depth_model(tmp_path / "dpt"))},
            "generation": {"steps": 3, "sampler": "Euler"},
        }
    )
    engine = Engine.from_config(config)
    request = engine.parse("a red circle --control depth", control_image=photo(tmp_path / "p.png"))
    result = engine.generate(request)
    assert len(result.images) == 4
    assert request.control_mode == "depth"
