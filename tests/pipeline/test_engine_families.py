"""Every engine operation on every model family: SD, SDXL and (schnell-like) FLUX.

The same operations run through the family seam, so each is checked once per family on the
tiny random models: sizes, image prompts, buttons (U, V, reroll), parameters, batching,
previews, cancel and the out-of-memory split.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from pipeline.batch_runner import Succeeded, run_batch
from pipeline.engine import batch_key, check_batch
from pipeline.errors import GenerationCanceled, ParameterError
from pipeline.request import size_for_aspect
from tests.pipeline.faulty_engine import FaultyEngine

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine, Progress
    from pipeline.request import GenerationRequest

ENGINES = ["tiny_engine", "sdxl_engine", "flux_engine"]
NEW_FAMILIES = ["sdxl_engine", "flux_engine"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Return each family's session engine in turn."""
    loaded: Engine = request.getfixturevalue(request.param)
    return loaded


@pytest.fixture(params=NEW_FAMILIES)
def new_engine(request: pytest.FixtureRequest) -> Engine:
    """Return the SDXL and FLUX session engines in turn."""
    loaded: Engine = request.getfixturevalue(request.param)
    return loaded


def pixels(image: Image.Image) -> np.ndarray:
    """Return an image as a signed integer array, for differences."""
    return np.asarray(image).astype(np.int32)


def max_difference(a: Image.Image, b: Image.Image) -> int:
    """Return the largest per-channel difference between two images."""
    return int(np.abs(pixels(a) - pixels(b)).max())


# A batched image may differ from the same image drawn alone by one level of one channel: a
# CPU's kernels round a batch of 8 latents differently from a batch of 4 (~4e-7 in the latents,
# in diffusers itself), which can tip a pixel across a rounding boundary.
BATCH_TOLERANCE = 1


def quick(engine: Engine, text: str, *, images: int = 1, **options: object) -> GenerationRequest:
    """Parse ``text`` with two steps into a request of ``images`` images."""
    request = engine.parse(f"{text} --steps 2", **options)  # type: ignore[arg-type]
    return replace(request, num_images=images)


def save_first_image(engine: Engine, request: GenerationRequest, folder: Path) -> Path:
    """Generate ``request`` and save its first image, as the bot stores outputs."""
    path = folder / "source.png"
    engine.generate(request).images[0].save(path)
    return path


def wide_image(folder: Path) -> Path:
    """Write a 2:1 image prompt and return its path."""
    path = folder / "init.png"
    Image.radial_gradient("L").convert("RGB").resize((96, 48)).save(path)
    return path


def native_pixels(engine: Engine) -> int:
    """Return the model's native pixel count."""
    width, height = engine.native_size
    return width * height


# Sizes and the grid ------------------------------------------------------------------------


def test_a_prompt_draws_a_two_by_two_grid_at_the_native_size(engine: Engine) -> None:
    """Draw four images at the model's native size, composed into a 2×2 grid."""
    result = engine.generate(engine.parse("a red circle --seed 5"))
    width, height = engine.native_size
    assert [image.size for image in result.images] == [(width, height)] * 4
    assert result.seeds == [5, 6, 7, 8]
    assert result.grid().size == (2 * width, 2 * height)


@pytest.mark.parametrize("ratio", ["16:9", "2:3"])
def test_aspect_ratio_keeps_the_native_pixel_count(engine: Engine, ratio: str) -> None:
    """Size --ar at about the native pixel count, in the family's size multiple."""
    request = quick(engine, f"a red circle --ar {ratio} --seed 1")
    wide, high = (int(side) for side in ratio.split(":"))
    multiple = engine.profile.family.size_multiple
    assert (request.width, request.height) == size_for_aspect(
        wide / high, native_pixels(engine), multiple
    )
    assert request.width % multiple == request.height % multiple == 0
    assert abs(request.width / request.height - wide / high) < 0.25
    (image,) = engine.generate(request).images
    assert image.size == (request.width, request.height)


def test_flux_sizes_are_multiples_of_sixteen(flux_engine: Engine) -> None:
    """Round every FLUX side to 16 pixels (2×2 latent patches), not to 8."""
    for ratio in ("16:9", "3:2", "1:3", "7:5"):
        request = flux_engine.parse(f"a --ar {ratio}")
        assert request.width % 16 == request.height % 16 == 0


# Image prompts and the buttons -------------------------------------------------------------


def test_image_prompt_keeps_the_images_aspect(engine: Engine, tmp_path: Path) -> None:
    """Draw a 2:1 image prompt at 2:1, at the output size the request says."""
    request = quick(engine, "a red circle --strength 0.5 --seed 1", init_image=wide_image(tmp_path))
    assert request.operation == "img2img"
    assert request.width / request.height == pytest.approx(2, abs=0.2)
    (image,) = engine.generate(request).images
    assert image.size == (request.width, request.height)


def test_upscale_doubles_the_size(engine: Engine, tmp_path: Path) -> None:
    """Press U: draw one image at twice the source's width and height."""
    source = quick(engine, "a red circle --seed 2 --ar 2:1")
    result = engine.generate(
        engine.requests.upscale_request(source, save_first_image(engine, source, tmp_path))
    )
    assert [image.size for image in result.images] == [(2 * source.width, 2 * source.height)]
    assert result.request.operation == "upscale"
    assert result.request.model == engine.name


@pytest.mark.parametrize("strength", ["subtle", "strong"])
def test_variation_draws_four_images_at_the_source_size(
    engine: Engine, tmp_path: Path, strength: str
) -> None:
    """Press V or Vary: draw four new images at the source's size with that strength."""
    source = quick(engine, "a red circle --seed 2 --ar 3:2")
    image = save_first_image(engine, source, tmp_path)
    request = engine.requests.variation_request(source, image, strength=strength, seed=70)  # type: ignore[arg-type]
    result = engine.generate(replace(request, steps=2))
    expected = getattr(engine.settings, f"variation_{strength}")
    assert result.request.strength == expected
    assert [image.size for image in result.images] == [(source.width, source.height)] * 4
    assert result.seeds == [70, 71, 72, 73]


def test_reroll_draws_a_new_seed_on_the_same_model(engine: Engine) -> None:
    """Press reroll: the same request on the same model with a new seed, new pixels."""
    source = quick(engine, "a red circle --seed 2")
    rerolled = engine.generate(engine.requests.reroll_request(source, seed=9))
    assert rerolled.request == replace(source, seed=9)
    assert rerolled.request.model == engine.name
    assert max_difference(engine.generate(source).images[0], rerolled.images[0]) > 0


# Parameters --------------------------------------------------------------------------------


def test_seed_reproduces_the_images_exactly(engine: Engine) -> None:
    """Draw the very same pixels for the same --seed."""
    request = quick(engine, "a red circle --seed 11", images=2)
    first, second = engine.generate(request), engine.generate(request)
    assert [image.tobytes() for image in first.images] == [
        image.tobytes() for image in second.images
    ]
    assert max_difference(first.images[0], first.images[1]) > 0


def test_steps_sets_the_number_of_denoising_steps(engine: Engine) -> None:
    """Run as many steps as --steps says, reported by the progress events."""
    events: list[Progress] = []
    request = replace(engine.parse("a red circle --steps 3 --seed 1"), num_images=1)
    engine.generate(request, progress=events.append)
    assert [(event.step, event.total_steps) for event in events] == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize(
    ("fixture", "sampler", "scheduler"),
    [
        ("tiny_engine", "DPM++ 2M Karras", "DPMSolverMultistepScheduler"),
        ("sdxl_engine", "DPM++ 2M Karras", "DPMSolverMultistepScheduler"),
        ("flux_engine", "Flow Euler", "FlowMatchEulerDiscreteScheduler"),
    ],
)
def test_sampler_of_the_family_draws(
    request: pytest.FixtureRequest, fixture: str, sampler: str, scheduler: str
) -> None:
    """Draw with a sampler the family offers, through that scheduler."""
    engine: Engine = request.getfixturevalue(fixture)
    generation = quick(engine, f"a red circle --sampler {sampler} --seed 1")
    assert generation.sampler == sampler
    (image,) = engine.generate(generation).images
    assert image.size == engine.native_size
    assert type(engine.model.txt2img.scheduler).__name__ == scheduler


def test_flux_refuses_a_unet_sampler_by_name(flux_engine: Engine) -> None:
    """Refuse --sampler Euler on FLUX, naming it and listing the family's samplers."""
    with pytest.raises(ParameterError, match=r"--sampler Euler .*FLUX.*Flow Euler"):
        flux_engine.parse("a red circle --sampler Euler")


# Batching ----------------------------------------------------------------------------------


def test_a_batched_image_equals_the_image_drawn_alone(engine: Engine) -> None:
    """Give each request of a merged batch the pixels it gets alone, prompts and all."""
    first = quick(engine, "a red circle --seed 1", images=2)
    second = quick(engine, "a (green:1.4) square on white --seed 99", images=2)
    batched = engine.generate_batch([first, second])
    for request, result in zip((first, second), batched, strict=True):
        alone = engine.generate(request)
        assert result.request == request
        for merged, single in zip(result.images, alone.images, strict=True):
            assert max_difference(merged, single) <= BATCH_TOLERANCE


def test_a_short_prompt_batched_with_a_long_one_draws_as_alone(engine: Engine) -> None:
    """Give a short prompt its own pixels next to one beyond 77 tokens, counting every step."""
    short = quick(engine, "a red circle --seed 1")
    long = quick(engine, "a green square " + "long " * 30 + "--seed 99")
    events: list[Progress] = []
    batched = engine.generate_batch([short, long], progress=events.append)
    for request, result in zip((short, long), batched, strict=True):
        (alone,) = engine.generate(request).images
        assert result.request == request
        assert max_difference(result.images[0], alone) <= BATCH_TOLERANCE
    total = events[-1].total_steps
    assert [(event.step, event.total_steps) for event in events] == [
        (step, total) for step in range(1, total + 1)
    ]


def test_out_of_memory_split_gives_the_pixels_of_one_call(new_engine: Engine) -> None:
    """Retry an out-of-memory request image by image, each with the pixels of the whole call."""
    faulty = FaultyEngine(new_engine, oom_above_images=1)
    request = quick(new_engine, "a red circle --seed 20", images=2)
    (outcome,) = run_batch(
        faulty, [request], progress=None, cancel=lambda: False, reference="job-1"
    )
    assert [[(r.seed, r.num_images) for r in call] for call in faulty.calls] == [
        [(20, 2)],
        [(20, 1)],
        [(21, 1)],
    ]
    assert isinstance(outcome, Succeeded)
    assert outcome.result.request == request
    whole = new_engine.generate(request)
    for split, single in zip(outcome.result.images, whole.images, strict=True):
        assert max_difference(split, single) <= BATCH_TOLERANCE


def test_requests_for_different_models_do_not_batch(
    sdxl_engine: Engine, flux_engine: Engine
) -> None:
    """Give requests alike but for their model different batch keys, and refuse to mix them."""
    request = sdxl_engine.parse("a red circle --seed 1")
    other = replace(request, model=flux_engine.name)
    assert batch_key(request) != batch_key(other)
    assert batch_key(request) != batch_key(flux_engine.parse("a red circle --seed 1"))
    with pytest.raises(ValueError, match="cannot batch"):
        check_batch([request, other])


# What comes back ---------------------------------------------------------------------------


def test_request_names_the_engines_model(engine: Engine) -> None:
    """Record the engine's model name on every request it parses."""
    assert engine.parse("a red circle").model == engine.name


def test_no_image_is_flagged_without_a_safety_checker(new_engine: Engine) -> None:
    """Report every image unflagged: SDXL and FLUX pipelines have no safety checker."""
    result = new_engine.generate(quick(new_engine, "a red circle --seed 1", images=2))
    assert result.flagged == (False, False)


def test_previews_come_at_preview_every_at_the_output_size(engine: Engine) -> None:
    """Preview every N steps (not the last), one per image, at the output's size, a step on."""
    events: list[Progress] = []
    request = replace(engine.parse("a red circle --ar 2:1 --steps 4 --seed 1"), num_images=2)
    engine.generate(request, progress=events.append)
    assert engine.settings.preview_every == 2
    assert [len(event.previews) for event in events] == [0, 0, 2, 0]
    assert {preview.size for preview in events[2].previews} == {(request.width, request.height)}


def test_cancel_stops_with_generation_canceled(engine: Engine) -> None:
    """Stop at the first step end after cancel is asked, and keep the engine usable."""
    asked = threading.Event()
    steps: list[int] = []

    def on_progress(event: Progress) -> None:
        steps.append(event.step)
        asked.set()

    request = replace(engine.parse("a red circle --steps 6 --seed 1"), num_images=1)
    with pytest.raises(GenerationCanceled):
        engine.generate(request, progress=on_progress, cancel=asked.is_set)
    assert steps == [1]
    assert len(engine.generate(quick(engine, "a --seed 1")).images) == 1


def test_stop_finishes_early_at_that_share_of_the_steps(engine: Engine) -> None:
    """End --stop 50 after half of eight steps, with an image unlike the finished one."""
    full = replace(engine.parse("a red circle --seed 4 --steps 8"), num_images=1)
    events: list[Progress] = []
    stopped = engine.generate(replace(full, stop=50), progress=events.append)
    finished = engine.generate(full)
    assert [event.step for event in events] == [1, 2, 3, 4]
    assert events[-1].fraction == 1.0
    assert max_difference(stopped.images[0], finished.images[0]) > 0


def test_stop_at_100_runs_every_step(engine: Engine) -> None:
    """Run all the steps of --stop 100, as without it."""
    request = replace(engine.parse("a red circle --seed 4 --steps 4 --stop 100"), num_images=1)
    events: list[Progress] = []
    engine.generate(request, progress=events.append)
    assert [event.step for event in events] == [1, 2, 3, 4]
