"""The engine's operations on a tiny random model: reproducibility, batching, img2img, cancel."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image
from torch import nn

from pipeline.errors import GenerationCanceled, ParameterError

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine, Progress
    from pipeline.request import GenerationRequest


def pixels(image: Image.Image) -> np.ndarray:
    """Return an image as a signed integer array, for differences."""
    return np.asarray(image).astype(np.int32)


def max_difference(a: Image.Image, b: Image.Image) -> int:
    """Return the largest per-channel difference between two images."""
    return int(np.abs(pixels(a) - pixels(b)).max())


def save_first_image(engine: Engine, request: GenerationRequest, folder: Path) -> Path:
    """Generate ``request`` and save its first image, as the bot stores outputs."""
    path = folder / "source.png"
    engine.generate(request).images[0].save(path)
    return path


def test_txt2img_makes_four_images_at_the_requested_size(tiny_engine: Engine) -> None:
    """Draw four images of the request's size with seeds seed..seed+3."""
    result = tiny_engine.generate(tiny_engine.parse("a red circle --seed 5 --ar 2:1"))
    assert len(result.images) == 4
    assert {image.size for image in result.images} == {
        (result.request.width, result.request.height)
    }
    assert result.seeds == [5, 6, 7, 8]


def test_same_seed_gives_identical_images(tiny_engine: Engine) -> None:
    """Reproduce a job exactly from its seed."""
    request = tiny_engine.parse("a red circle --seed 11")
    first, second = tiny_engine.generate(request), tiny_engine.generate(request)
    assert all(max_difference(a, b) == 0 for a, b in zip(first.images, second.images, strict=True))


def test_different_seeds_give_different_images(tiny_engine: Engine) -> None:
    """Draw something else for another seed."""
    result = tiny_engine.generate(tiny_engine.parse("a red circle --seed 11"))
    assert max_difference(result.images[0], result.images[1]) > 0


def test_each_image_can_be_reproduced_alone_from_its_seed(tiny_engine: Engine) -> None:
    """Make image i of a job equal to a one-image job with seed+i."""
    request = tiny_engine.parse("a blue star --seed 40")
    batch = tiny_engine.generate(request)
    alone = tiny_engine.generate(replace(request, seed=42, num_images=1))
    assert max_difference(batch.images[2], alone.images[0]) <= 1


def test_batched_requests_match_the_same_requests_run_alone(tiny_engine: Engine) -> None:
    """Give each request in a merged batch the images it gets alone, prompts included."""
    first = tiny_engine.parse("a red circle --seed 1")
    second = tiny_engine.parse("a (green:1.4) square on white --seed 99 --no blue")
    batched = tiny_engine.generate_batch([first, second])
    for request, result in zip((first, second), batched, strict=True):
        alone = tiny_engine.generate(request)
        assert result.request == request
        for merged, single in zip(result.images, alone.images, strict=True):
            assert max_difference(merged, single) <= 1


def test_incompatible_requests_are_not_batched(tiny_engine: Engine) -> None:
    """Refuse to merge requests whose sizes differ."""
    with pytest.raises(ValueError, match="cannot batch"):
        tiny_engine.generate_batch(
            [tiny_engine.parse("a --ar 1:1"), tiny_engine.parse("b --ar 2:1")]
        )


def test_negative_prompt_changes_the_image(tiny_engine: Engine) -> None:
    """Let the negative prompt steer the result."""
    plain = tiny_engine.generate(tiny_engine.parse("a red circle --seed 3"))
    steered = tiny_engine.generate(tiny_engine.parse("a red circle --seed 3 --no blue, stars"))
    assert max_difference(plain.images[0], steered.images[0]) > 0


def test_prompt_weighting_changes_the_image(tiny_engine: Engine) -> None:
    """Let (word:1.5) change the embeddings and so the image."""
    plain = tiny_engine.generate(tiny_engine.parse("a red circle --seed 3"))
    weighted = tiny_engine.generate(tiny_engine.parse("a (red:1.5) circle --seed 3"))
    assert max_difference(plain.images[0], weighted.images[0]) > 0


def test_img2img_keeps_the_init_image_aspect(tiny_engine: Engine, tmp_path: Path) -> None:
    """Draw a 2:1 image prompt at 2:1, not at the model's square native size."""
    init = tmp_path / "init.png"
    Image.radial_gradient("L").convert("RGB").resize((96, 48)).save(init)
    assert tiny_engine.native_size == (32, 32)
    request = replace(
        tiny_engine.parse("a red circle --strength 0.5 --steps 2", init_image=init), num_images=1
    )
    result = tiny_engine.generate(request)
    assert request.operation == "img2img"
    assert [image.size for image in result.images] == [(64, 32)]


def test_img2img_with_a_tiny_strength_still_runs(tiny_engine: Engine, tmp_path: Path) -> None:
    """Run at least one step even when steps × strength rounds down to zero."""
    init = tmp_path / "init.png"
    tiny_engine.generate(tiny_engine.parse("x --seed 1")).images[0].save(init)
    result = tiny_engine.generate(tiny_engine.parse("a --strength 0.05 --steps 2", init_image=init))
    assert len(result.images) == 4


def test_upscale_doubles_the_size(tiny_engine: Engine, tmp_path: Path) -> None:
    """Return one image at twice the source's width and height."""
    source = tiny_engine.parse("a red circle --seed 2 --ar 2:1")
    result = tiny_engine.generate(
        tiny_engine.requests.upscale_request(
            source, save_first_image(tiny_engine, source, tmp_path)
        )
    )
    assert [image.size for image in result.images] == [(source.width * 2, source.height * 2)]
    assert result.request.operation == "upscale"
    assert result.request.strength == tiny_engine.settings.upscale_strength


def test_upscale_beyond_the_pixel_limit_is_refused(tiny_engine: Engine, tmp_path: Path) -> None:
    """Refuse an upscale whose result would exceed max_pixels, saying so."""
    source = replace(tiny_engine.parse("a --seed 2"), width=4096, height=4096)
    with pytest.raises(ParameterError, match="megapixels"):
        tiny_engine.requests.upscale_request(source, tmp_path / "x.png")


def test_variation_makes_four_new_images_from_the_source(
    tiny_engine: Engine, tmp_path: Path
) -> None:
    """Vary an image into four at the source size with a new seed and the chosen strength."""
    source = tiny_engine.parse("a red circle --seed 2")
    image = save_first_image(tiny_engine, source, tmp_path)
    result = tiny_engine.generate(
        tiny_engine.requests.variation_request(source, image, strength="strong", seed=77)
    )
    assert len(result.images) == 4
    assert result.images[0].size == (source.width, source.height)
    assert result.request.strength == tiny_engine.settings.variation_strong
    assert result.request.init_image == image
    assert result.seeds == [77, 78, 79, 80]


def test_variation_of_an_upscale_returns_to_the_native_size(
    tiny_engine: Engine, tmp_path: Path
) -> None:
    """Vary an upscaled image at the model's native pixel count, not at twice the size."""
    source = tiny_engine.parse("a red circle --seed 2")
    upscale = tiny_engine.requests.upscale_request(source, tmp_path / "x.png")
    assert (
        tiny_engine.requests.variation_request(upscale, tmp_path / "y.png").width
    ) == source.width


def test_reroll_keeps_everything_but_the_seed(tiny_engine: Engine) -> None:
    """Rerun a request with a new seed and nothing else changed."""
    source = tiny_engine.parse("a red circle --seed 2 --cfg 3")
    rerolled = tiny_engine.generate(tiny_engine.requests.reroll_request(source, seed=9))
    assert rerolled.request == replace(source, seed=9)


def test_progress_reports_every_step_with_previews(tiny_engine: Engine) -> None:
    """Report step k of n with an ETA after each step; step N's previews come with step N+1."""
    events: list[Progress] = []
    tiny_engine.generate(tiny_engine.parse("a red circle --steps 4"), progress=events.append)
    assert [(e.step, e.total_steps) for e in events] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(e.eta is not None and e.eta >= 0 for e in events)
    assert [len(e.previews) for e in events] == [0, 0, 4, 0]
    assert events[2].previews[0].size == tiny_engine.native_size


def test_cancel_stops_within_one_step(tiny_engine: Engine) -> None:
    """Stop a running generation at the first step end after cancel is asked."""
    asked = threading.Event()
    steps: list[int] = []

    def on_progress(event: Progress) -> None:
        steps.append(event.step)
        if event.step == 1:
            asked.set()

    with pytest.raises(GenerationCanceled):
        tiny_engine.generate(
            tiny_engine.parse("a red circle --steps 10"), progress=on_progress, cancel=asked.is_set
        )
    assert steps == [1]


def test_engine_works_normally_after_a_cancel(tiny_engine: Engine) -> None:
    """Leave the engine usable after a cancelled job."""
    with pytest.raises(GenerationCanceled):
        tiny_engine.generate(tiny_engine.parse("a"), cancel=lambda: True)
    assert len(tiny_engine.generate(tiny_engine.parse("a --seed 1")).images) == 4


def test_tiling_changes_the_image_and_restores_the_modules(tiny_engine: Engine) -> None:
    """Draw differently with --tile, and leave zero padding behind for the next job."""
    plain = tiny_engine.generate(tiny_engine.parse("a red circle --seed 3"))
    tiled = tiny_engine.generate(tiny_engine.parse("a red circle --seed 3 --tile"))
    assert max_difference(plain.images[0], tiled.images[0]) > 0
    modes = {
        m.padding_mode for m in tiny_engine.model.txt2img.unet.modules() if isinstance(m, nn.Conv2d)
    }
    assert modes == {"zeros"}


def test_txt2img_and_img2img_share_one_set_of_weights(tiny_engine: Engine) -> None:
    """Keep one copy of every module in memory for both pipelines."""
    model = tiny_engine.model
    for name in ("unet", "vae", "text_encoder", "tokenizer"):
        assert getattr(model.img2img, name) is getattr(model.txt2img, name)


def test_grid_is_two_by_two(tiny_engine: Engine) -> None:
    """Compose a job's four images into a grid twice as wide and tall."""
    result = tiny_engine.generate(tiny_engine.parse("a --seed 1"))
    width, height = result.images[0].size
    assert result.grid().size == (width * 2, height * 2)


def test_a_styled_request_draws_its_style_text(tiny_engine: Engine) -> None:
    """Draw a styled request as its expanded text, not as the prompt the member typed."""
    plain = replace(tiny_engine.parse("a red circle --seed 2 --steps 2"), num_images=1)
    styled = replace(plain, style="blue", styled_prompt="a blue circle")
    spelled_out = replace(plain, prompt="a blue circle")
    drawn = tiny_engine.generate(styled).images[0]
    assert max_difference(drawn, tiny_engine.generate(spelled_out).images[0]) == 0
    assert max_difference(drawn, tiny_engine.generate(plain).images[0]) > 0
