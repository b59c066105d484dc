"""The command line: ``python -m pipeline`` writes images and explains every failure."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from pipeline.__main__ import main
from pipeline.metadata import read_parameters
from tests.pipeline.control_files import save_tiny_controlnet

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine

ROOT = __import__("pathlib").Path(__file__).parents[2]


@pytest.fixture
def config_file(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """Write a config pointing at the tiny model, as an operator would."""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"data_dir: data\nmodel:\n  path: {tiny_model_dir}\n  device: cpu\n  cpu_threads: 1\n"
        "generation:\n  steps: 3\n  sampler: Euler\n",
        encoding="utf-8",
    )
    return path


def run(config: Path, *arguments: str) -> int:
    """Run the CLI in-process with the given config."""
    return main(["--config", str(config), *arguments])


def test_writes_the_grid_and_prints_the_seeds(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Write a 2×2 grid and print the four seeds and the timing."""
    output = tmp_path / "out.png"
    assert run(config_file, "a red circle --seed 7", "-o", str(output)) == 0
    assert Image.open(output).size == (64, 64)
    printed = capsys.readouterr().out
    assert "seeds: 7 8 9 10" in printed
    assert " s (model loaded in " in printed


def test_single_writes_the_four_images_too(config_file: Path, tmp_path: Path) -> None:
    """Write out-1.png .. out-4.png beside the grid."""
    output = tmp_path / "out.png"
    assert run(config_file, "a red circle --seed 7", "-o", str(output), "--single") == 0
    assert [Image.open(tmp_path / f"out-{i}.png").size for i in range(1, 5)] == [(32, 32)] * 4


def test_init_image_runs_img2img(config_file: Path, tmp_path: Path) -> None:
    """Draw from an init image at its aspect ratio."""
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 32), (0, 0, 255)).save(init)
    output = tmp_path / "out.png"
    assert run(config_file, "a red circle", "--init", str(init), "-o", str(output), "--single") == 0
    width, height = Image.open(tmp_path / "out-1.png").size
    assert width == 2 * height


def test_upscale_doubles_the_init_image(config_file: Path, tmp_path: Path) -> None:
    """Write one image twice the size of the init image."""
    init = tmp_path / "init.png"
    Image.new("RGB", (32, 32), (0, 0, 255)).save(init)
    output = tmp_path / "big.png"
    assert (
        run(config_file, "a blue square", "--init", str(init), "--upscale", "-o", str(output)) == 0
    )
    assert Image.open(output).size == (64, 64)


def test_upscale_without_an_image_is_a_usage_error(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Explain that --upscale needs --init."""
    assert run(config_file, "a", "--upscale") == 2
    assert "--init" in capsys.readouterr().err


def test_zoom_out_draws_a_grid_around_the_init_image(config_file: Path, tmp_path: Path) -> None:
    """Write a grid whose images keep the init image, shrunk, in their centre."""
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64), (250, 0, 0)).save(init)
    output = tmp_path / "zoomed.png"
    arguments = ("--init", str(init), "--zoom-out", "2", "-o", str(output), "--single")
    assert run(config_file, "a red square", *arguments) == 0
    image = Image.open(tmp_path / "zoomed-1.png").convert("RGB")
    width, height = image.size
    assert image.getpixel((width // 2, height // 2)) == (250, 0, 0)


def test_pan_widens_the_init_image(config_file: Path, tmp_path: Path) -> None:
    """Write images half as wide again as tall after a pan to the left."""
    init = tmp_path / "init.png"
    Image.new("RGB", (32, 32), (0, 0, 255)).save(init)
    output = tmp_path / "panned.png"
    arguments = ("--init", str(init), "--pan", "left", "-o", str(output), "--single")
    assert run(config_file, "a blue square", *arguments) == 0
    width, height = Image.open(tmp_path / "panned-1.png").size
    assert width == height * 3 // 2


def test_control_guides_a_grid_with_the_models_controlnet(
    tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Draw with --control SKETCH --control-mode scribble and record it in the image."""
    controlnet = save_tiny_controlnet(tiny_engine, tmp_path / "controlnet")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"data_dir: data\nmodel:\n  path: {tiny_model_dir}\n  device: cpu\n  cpu_threads: 1\n"
        f"  controlnets: {{scribble: {controlnet}}}\ngeneration:\n  steps: 3\n  sampler: Euler\n",
        encoding="utf-8",
    )
    sketch = tmp_path / "sketch.png"
    Image.new("RGB", (64, 64), "white").save(sketch)
    output = tmp_path / "guided.png"
    arguments = ("--control", str(sketch), "--control-mode", "scribble", "-o", str(output))
    assert run(config, "a red circle --seed 2", *arguments) == 0
    assert 'ControlNet: "scribble, weight 1"' in (read_parameters(Image.open(output)) or "")


def test_two_edits_at_once_are_a_usage_error(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refuse --zoom-out with --pan."""
    assert run(config_file, "a", "--init", "x.png", "--zoom-out", "2", "--pan", "up") == 2
    assert "choose one" in capsys.readouterr().err


def test_bad_parameter_is_reported_without_a_traceback(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Print the parameter error and exit 2."""
    assert run(config_file, "a red circle --steps 0") == 2
    error = capsys.readouterr().err
    assert "--steps must be a whole number" in error
    assert "Traceback" not in error


def test_bad_config_is_reported_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Print the config error naming the key and exit 2."""
    path = tmp_path / "config.yaml"
    path.write_text("model:\n  path: ./nowhere\n", encoding="utf-8")
    assert run(path, "a") == 2
    assert "model.path" in capsys.readouterr().err


def test_runs_as_a_module_with_help_listing_config() -> None:
    """Start `python -m pipeline --help` as a user would and list --config."""
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=120,
    )
    assert "--config" in result.stdout


def test_model_parameter_draws_with_that_model(
    tiny_model_dir: Path, tiny_sdxl_dir: Path, tmp_path: Path
) -> None:
    """Draw with --model NAME from a config listing several models."""
    config = tmp_path / "models.yaml"
    config.write_text(
        "data_dir: data\nmodels:\n"
        f"  - name: sd\n    path: {tiny_model_dir}\n    device: cpu\n    cpu_threads: 1\n"
        f"  - name: xl\n    path: {tiny_sdxl_dir}\n    device: cpu\n    cpu_threads: 1\n"
        "generation:\n  steps: 2\n  sampler: Euler\n",
        encoding="utf-8",
    )
    output = tmp_path / "xl.png"
    assert run(config, "a red circle --model xl --seed 1", "-o", str(output)) == 0
    assert Image.open(output).size == (128, 128)  # the 2×2 grid of SDXL's 64×64 images


def test_written_images_carry_their_parameters(config_file: Path, tmp_path: Path) -> None:
    """Write A1111's parameters into the grid and each --single image."""
    output = tmp_path / "fox.png"
    assert run(config_file, "a red fox --seed 5", "-o", str(output), "--single") == 0
    grid = read_parameters(Image.open(output))
    second = read_parameters(Image.open(tmp_path / "fox-2.png"))
    assert grid is not None
    assert 'Seed: 5, Grid seeds: "5, 6, 7, 8"' in grid
    assert second is not None
    assert "Seed: 6," in second
