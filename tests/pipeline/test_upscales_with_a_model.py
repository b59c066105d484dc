"""``upscaler:``: every upscale enlarges with the super-resolution model before refining."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from pipeline.config import PipelineConfig
from pipeline.engine import Engine
from pipeline.image_inputs import init_images
from pipeline.super_resolution import SuperResolution

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pipeline.sr_files import UpscalerFiles


def source_image(tmp_path: Path) -> Path:
    """Save a small image with detail to enlarge."""
    rng = np.random.default_rng(3)
    path = tmp_path / "source.png"
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
    return path


def test_an_upscale_starts_from_the_models_enlargement(
    tiny_engine: Engine, upscaler_files: UpscalerFiles, tmp_path: Path
) -> None:
    """Feed an upscale the model's enlargement, and an image prompt a plain Lanczos resize."""
    upscaler = SuperResolution.load(upscaler_files.pth, torch.device("cpu"), torch.float32)
    path = source_image(tmp_path)
    source = tiny_engine.parse("a red circle --seed 1")
    upscale = tiny_engine.requests.upscale_request(source, path)
    image_prompt = tiny_engine.parse("a red circle --seed 1", init_image=path)
    limits = tiny_engine.input_limits
    enlarged = init_images([upscale], limits, upscaler)[0]
    expected = upscaler.enlarge(Image.open(path), (upscale.width, upscale.height))
    assert np.array_equal(np.asarray(enlarged), np.asarray(expected))
    resized = init_images([image_prompt], limits, upscaler)[0]
    lanczos = Image.open(path).convert("RGB").resize(resized.size, Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(resized), np.asarray(lanczos))


def test_the_configured_upscaler_draws_the_upscales(
    tiny_config: PipelineConfig, upscaler_files: UpscalerFiles, tmp_path: Path
) -> None:
    """Load upscaler: with the engine, and get other pixels from an upscale than without it."""
    configured = PipelineConfig.model_validate(
        {**tiny_config.model_dump(), "upscaler": str(upscaler_files.pth)}
    )
    with_model = Engine.from_config(configured)
    plain = Engine.from_config(tiny_config)
    assert with_model.upscaler is not None
    assert with_model.upscaler.scale == 2
    assert plain.upscaler is None
    path = source_image(tmp_path)
    source = plain.parse("a red circle --seed 1")
    images = [
        engine.generate(engine.requests.upscale_request(source, path)).images[0]
        for engine in (with_model, plain)
    ]
    assert not np.array_equal(np.asarray(images[0]), np.asarray(images[1]))
