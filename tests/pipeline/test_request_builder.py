"""Choosing a job's model: --model, the command's option, the default, and buttons' sources."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from pipeline.config import GenerationSettings, InputImageSettings
from pipeline.errors import ParameterError
from pipeline.families.base import ModelTraits
from pipeline.models import ModelCatalog, profile_of
from pipeline.request_builder import RequestBuilder
from tests.request_fixtures import sd_profile

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from pipeline.request import GenerationRequest

SETTINGS = GenerationSettings()


def builder(*, with_xl: bool = True) -> RequestBuilder:
    """Return a builder over an SD model (the default, 512²) and, unless told, an SDXL one."""
    profiles = [sd_profile()]
    if with_xl:
        profiles.append(profile_of("xl", ModelTraits("sdxl", (1024, 1024)), None, SETTINGS))
    return RequestBuilder(ModelCatalog(profiles, "sd"), SETTINGS, InputImageSettings())


def xl_request() -> GenerationRequest:
    """Return a request made on the SDXL model."""
    return builder().parse("a red fox --model xl --seed 5")


def test_no_model_named_gets_the_default() -> None:
    """Build a prompt that names no model for the default model at its size."""
    request = builder().parse("a red fox --seed 5")
    assert (request.model, request.width, request.height) == ("sd", 512, 512)


def test_inline_model_picks_the_model_and_its_size() -> None:
    """Build a prompt saying --model for that model, at that model's native size."""
    request = xl_request()
    assert (request.model, request.width, request.height) == ("xl", 1024, 1024)
    assert request.prompt == "a red fox"


def test_inline_model_sizes_the_aspect_ratio_at_that_models_pixels() -> None:
    """Size --ar at the named model's pixel count, not the default's."""
    request = builder().parse("a red fox --ar 2:1 --model xl")
    assert abs(request.width / request.height - 2) < 0.02
    assert 0.9 < request.width * request.height / (1024 * 1024) < 1.1


def test_the_model_option_picks_the_model() -> None:
    """Build a prompt for the model the command's option names."""
    request = builder().parse("a red fox", model="xl")
    assert (request.model, request.width) == ("xl", 1024)


def test_inline_model_and_option_agreeing_are_accepted() -> None:
    """Accept --model and the option naming one model, whatever the case."""
    assert builder().parse("a red fox --model XL", model="xl").model == "xl"


def test_inline_model_and_option_disagreeing_are_refused() -> None:
    """Refuse a prompt whose --model and option name different models."""
    with pytest.raises(ParameterError, match=r"--model sd but the model option says xl"):
        builder().parse("a red fox --model sd", model="xl")


@pytest.mark.parametrize("text", ["a red fox --model", "a red fox --model --seed 3"])
def test_model_without_a_name_is_refused_with_the_names(text: str) -> None:
    """Refuse --model given no name, listing the models."""
    with pytest.raises(ParameterError, match=r"--model needs a name: one of sd, xl"):
        builder().parse(text)


@pytest.mark.parametrize(("text", "option"), [("a red fox --model xll", None), ("a fox", "xll")])
def test_an_unknown_model_is_refused_with_the_names(text: str, option: str | None) -> None:
    """Refuse a model that is not configured, listing the ones that are."""
    with pytest.raises(ParameterError, match=r"no model called 'xll'.*Models: sd, xl"):
        builder().parse(text, model=option)


def test_a_variation_keeps_the_sources_model(tmp_path: Path) -> None:
    """Make a variation on the model its source image was made with."""
    variation = builder().variation_request(xl_request(), tmp_path / "image.png", seed=1)
    assert (variation.model, variation.width, variation.operation) == ("xl", 1024, "variation")


def test_a_variation_of_an_upscale_returns_to_its_models_size(tmp_path: Path) -> None:
    """Draw a variation of an upscaled image at its own model's native size, not the default's."""
    requests = builder()
    upscaled = requests.upscale_request(xl_request(), tmp_path / "image.png")
    assert (upscaled.model, upscaled.width) == ("xl", 2048)
    variation = requests.variation_request(upscaled, tmp_path / "big.png")
    assert (variation.model, variation.width, variation.height) == ("xl", 1024, 1024)


def test_a_reroll_keeps_the_sources_model() -> None:
    """Roll a request again on its source's model, with a new seed."""
    rerolled = builder().reroll_request(xl_request(), seed=77)
    assert (rerolled.model, rerolled.seed, rerolled.width) == ("xl", 77, 1024)


BUTTONS: dict[str, Callable[[RequestBuilder, GenerationRequest, Path], GenerationRequest]] = {
    "variation": lambda requests, source, image: requests.variation_request(source, image),
    "upscale": lambda requests, source, image: requests.upscale_request(source, image),
    "reroll": lambda requests, source, _image: requests.reroll_request(source),
}


@pytest.mark.parametrize("button", BUTTONS)
def test_a_source_whose_model_is_gone_is_refused(button: str, tmp_path: Path) -> None:
    """Say so when a button's image was made with a model no longer configured."""
    press = BUTTONS[button]
    with pytest.raises(ParameterError, match="model xl, which this server no longer has"):
        press(builder(with_xl=False), xl_request(), tmp_path / "image.png")


@pytest.mark.parametrize("button", BUTTONS)
def test_an_old_request_without_a_model_uses_the_default(button: str, tmp_path: Path) -> None:
    """Resolve a stored request from before models had names to the default model."""
    old = replace(builder().parse("a red fox --seed 5"), model="")
    assert BUTTONS[button](builder(), old, tmp_path / "image.png").model == "sd"


@pytest.mark.parametrize(
    ("text", "count"), [("a fox", 1), ("a fox --repeat 3", 3), ("a fox --r 4", 4)]
)
def test_repeat_asks_for_that_many_jobs(text: str, count: int) -> None:
    """Read --repeat N (or --r N) as N jobs, one without it."""
    assert builder().repeats(text) == count


@pytest.mark.parametrize("value", ["0", "5", "two"])
def test_repeat_outside_the_servers_limit_is_refused(value: str) -> None:
    """Refuse --repeat beyond generation.max_repeat (4 by default), naming the range."""
    with pytest.raises(ParameterError, match="from 1 to 4"):
        builder().repeats(f"a fox --repeat {value}")


def test_loras_on_a_server_without_them_are_refused() -> None:
    """Refuse --lora where no LoRA folder is offered."""
    with pytest.raises(ParameterError, match="does not offer LoRAs"):
        builder().parse("a fox --lora ink")


def test_a_creative_upscale_refines_more_strongly(tmp_path: Path) -> None:
    """Refine Upscale (Creative) at upscale_creative, and Subtle at upscale_strength."""
    source = builder().parse("a fox")
    settings = builder().settings
    assert builder().upscale_request(source, tmp_path).strength == settings.upscale_strength
    creative = builder().upscale_request(source, tmp_path, creative=True)
    assert creative.strength == settings.upscale_creative > settings.upscale_strength
