"""ControlNet through the engine: configured per model and mode, on every family."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.config import PipelineConfig
from pipeline.engine import Engine
from pipeline.errors import ParameterError
from tests.pipeline.control_files import save_tiny_controlnet

if TYPE_CHECKING:
    from pathlib import Path

ENGINES = ["tiny_engine", "sdxl_engine", "flux_engine"]


def difference(first: list[Image.Image], second: list[Image.Image]) -> float:
    """Return the mean absolute difference of two lists of images, in 0-255 levels."""
    return float(
        np.mean(
            [
                np.abs(np.asarray(a, float) - np.asarray(b, float)).mean()
                for a, b in zip(first, second, strict=True)
            ]
        )
    )


def sketch(path: Path) -> Path:
    """Save a black square outline on white, as a member would draw it."""
    image = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(image).rectangle((8, 8, 28, 28), outline="black", width=2)
    image.save(path)
    return path


def guided(engine: Engine, tmp_path: Path, modes: tuple[str, ...] = ("canny",)) -> Engine:
    """Load the engine's model again with a tiny ControlNet for ``modes``."""
    folder = save_tiny_controlnet(engine, tmp_path / "controlnet")
    entry = engine.model.name
    config = PipelineConfig.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "model": {
                "path": entry,
                "name": engine.name,
                "device": "cpu",
                "cpu_threads": 1,
                "controlnets": {mode: str(folder) for mode in modes},
            },
            "generation": {"steps": 4, "sampler": "Euler", "guidance": 5.0},
        }
    )
    return Engine.from_config(config)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_control_image_guides_the_drawing_at_its_weight(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Draw other pixels at --cw 1 than at 0; on SD and SDXL, 0 is exactly unguided."""
    engine = guided(request.getfixturevalue(engine_name), tmp_path)
    control = sketch(tmp_path / "sketch.png")
    plain = engine.generate(engine.parse("a red circle --seed 4"))
    off, on = (
        engine.generate(engine.parse(f"a red circle --seed 4 --cw {w}", control_image=control))
        for w in (0, 1)
    )
    assert on.request.control_mode == "canny"
    assert [image.size for image in on.images] == [image.size for image in plain.images]
    assert difference(on.images, off.images) > 2.0
    if engine.model.family.name != "flux":  # FLUX's ControlNet pipeline draws otherwise at 0
        assert difference(off.images, plain.images) == 0.0


def test_a_mode_the_model_has_no_controlnet_for_is_refused_with_its_modes(
    tiny_engine: Engine, tmp_path: Path
) -> None:
    """Refuse --control scribble on a model with only canny, naming canny."""
    engine = guided(tiny_engine, tmp_path)
    control = sketch(tmp_path / "sketch.png")
    with pytest.raises(ParameterError, match="its modes: canny"):
        engine.parse("a red circle --control scribble", control_image=control)


def test_control_parameters_without_a_control_image_are_refused(tiny_engine: Engine) -> None:
    """Ask for the image when --control or --cw come without one."""
    for text in ("a red circle --control canny", "a red circle --cw 1.5"):
        with pytest.raises(ParameterError, match="attach one"):
            tiny_engine.parse(text)


def test_an_unknown_mode_and_a_weight_out_of_range_are_refused(
    tiny_engine: Engine, tmp_path: Path
) -> None:
    """List the modes for --control sobel; give the range for --cw 3."""
    engine = guided(tiny_engine, tmp_path)
    control = sketch(tmp_path / "sketch.png")
    with pytest.raises(ParameterError, match="canny, scribble, lineart, depth, pose"):
        engine.parse("a red circle --control sobel", control_image=control)
    with pytest.raises(ParameterError, match="cw"):
        engine.parse("a red circle --cw 3", control_image=control)


def test_a_guided_job_survives_being_stored(tiny_engine: Engine, tmp_path: Path) -> None:
    """Round-trip the control image, mode and weight through the stored dict."""
    engine = guided(tiny_engine, tmp_path, ("canny", "scribble"))
    control = sketch(tmp_path / "sketch.png")
    job = engine.parse("a red circle --control scribble --cw 0.5", control_image=control)
    assert type(job).from_dict(job.to_dict()) == job
    assert (job.control_mode, job.control_weight, job.control_image) == ("scribble", 0.5, control)


def test_buttons_on_a_guided_grid_start_from_the_image(tiny_engine: Engine, tmp_path: Path) -> None:
    """Upscale and vary without the control image; reroll with it."""
    engine = guided(tiny_engine, tmp_path)
    job = engine.parse("a red circle", control_image=sketch(tmp_path / "sketch.png"))
    image = tmp_path / "1.png"
    assert engine.requests.upscale_request(job, image).control_image is None
    assert engine.requests.variation_request(job, image).control_image is None
    assert engine.requests.reroll_request(job).control_image == job.control_image
