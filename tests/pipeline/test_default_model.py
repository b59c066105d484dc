"""The shipped default model draws what it is asked: tests of meaning, not only of sizes.

Images are read back with ``measure_scene`` (nearest palette colour of the shape's pixels and
of the border). Each test looks at several fixed seeds and asks for a clear majority, so a
single odd image does not fail it while a broken model always does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.config import PipelineConfig
from pipeline.config_file import load_config
from pipeline.engine import Engine
from training.measure import measure_scene
from training.scenes import Scene, render

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def engine() -> Engine:
    """Load the shipped model with the repository's own config.yaml, on the CPU."""
    config = load_config(ROOT / "config.yaml", PipelineConfig, environ={})
    model = config.model.model_copy(update={"device": "cpu"})
    return Engine.from_config(config.model_copy(update={"model": model}))


def readings(images: list[Image.Image]) -> list[tuple[str | None, str]]:
    """Return (shape colour, background colour) for each image."""
    return [(r.shape_colour, r.background_colour) for r in map(measure_scene, images)]


def distance(a: Image.Image, b: Image.Image) -> float:
    """Return the mean absolute pixel difference of two same-sized images."""
    return float(np.abs(np.asarray(a, float) - np.asarray(b, float)).mean())


@pytest.mark.parametrize(
    ("prompt", "shape", "background"),
    [
        ("a red circle on a blue background", "red", "blue"),
        ("a yellow star on a purple background", "yellow", "purple"),
        ("a green square on a white background", "green", "white"),
        ("a white triangle on a black backdrop", "white", "black"),
    ],
)
def test_prompts_get_their_colours(
    engine: Engine, prompt: str, shape: str, background: str
) -> None:
    """Draw the asked shape colour on the asked background in most of eight images."""
    images = [
        image
        for seed in (11, 23)
        for image in engine.generate(engine.parse(f"{prompt} --seed {seed}")).images
    ]
    correct = sum(1 for reading in readings(images) if reading == (shape, background))
    assert correct >= 6, readings(images)


def test_a_wide_aspect_ratio_still_draws_the_prompt(engine: Engine) -> None:
    """Draw the asked colours at --ar 2:1, away from the model's square native size."""
    request = engine.parse("a red circle on a blue background --ar 2:1 --seed 4")
    images = engine.generate(request).images
    assert images[0].width > images[0].height
    correct = sum(1 for reading in readings(images) if reading == ("red", "blue"))
    assert correct >= 3, readings(images)


def test_a_negative_prompt_steers_away(engine: Engine) -> None:
    """Draw the colour a prompt leaves open less often once --no names it."""

    def shape_colours(prompt: str) -> Counter[str | None]:
        images = [
            image
            for seed in (5, 6, 7)
            for image in engine.generate(engine.parse(f"{prompt} --seed {seed}")).images
        ]
        return Counter(colour for colour, _ in readings(images))

    prompt = "a circle on a white background"
    (favourite, count), *_ = shape_colours(prompt).most_common(1)
    assert count >= 4, "the prompt must favour a colour for this test to mean anything"
    assert shape_colours(f"{prompt} --no {favourite}")[favourite] < count // 2


def test_img2img_at_low_strength_keeps_the_background(engine: Engine, tmp_path: Path) -> None:
    """Keep the init image's blue background when the prompt does not name another."""
    init = tmp_path / "init.png"
    render(Scene("orange", "square", "blue", "center"), 64, 64).save(init)
    request = engine.parse("a yellow star --strength 0.3 --seed 3", init_image=init)
    backgrounds = [background for _, background in readings(engine.generate(request).images)]
    assert backgrounds.count("blue") >= 3, backgrounds


def test_variations_resemble_their_source_more_than_an_unrelated_image(
    engine: Engine, tmp_path: Path
) -> None:
    """Make subtle variations closer in pixels to their source than another prompt's image."""
    source_request = engine.parse("a red circle on a blue background --seed 8")
    source = engine.generate(source_request).images[0]
    path = tmp_path / "source.png"
    source.save(path)
    varied = engine.generate(
        engine.requests.variation_request(source_request, path, strength="subtle", seed=100)
    ).images
    unrelated = engine.generate(
        engine.parse("a green star on a yellow background --seed 9")
    ).images[0]
    assert max(distance(v, source) for v in varied) < distance(unrelated, source)


def test_upscale_keeps_the_colours(engine: Engine, tmp_path: Path) -> None:
    """Keep shape and background colours when upscaling 2×."""
    source_request = engine.parse("a red circle on a blue background --seed 12")
    source = engine.generate(replace(source_request, num_images=1)).images[0]
    path = tmp_path / "source.png"
    source.save(path)
    upscaled = engine.generate(
        engine.requests.upscale_request(replace(source_request, num_images=1), path)
    ).images[0]
    assert upscaled.size == (source.width * 2, source.height * 2)
    assert readings([upscaled]) == readings([source])


def test_the_command_line_draws_the_example_offline(tmp_path: Path) -> None:
    """Run `python -m pipeline` with the default config and get yellow stars on purple."""
    output = tmp_path / "grid.png"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "a yellow star on a purple background --seed 1",
            "--config",
            str(ROOT / "config.yaml"),
            "-o",
            str(output),
            "--single",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
        check=True,
        capture_output=True,
        timeout=300,
    )
    cells = [Image.open(tmp_path / f"grid-{index}.png") for index in range(1, 5)]
    assert sum(1 for reading in readings(cells) if reading == ("yellow", "purple")) >= 3
