"""Style presets: a hidden template around the member's prompt, chosen with --style."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from pipeline.config import GenerationSettings, InputImageSettings, StyleSettings
from pipeline.errors import ParameterError
from pipeline.families.base import ModelTraits
from pipeline.lora_syntax import LoraUse
from pipeline.metadata import parameters_text
from pipeline.models import ModelCatalog, profile_of
from pipeline.request_builder import RequestBuilder
from tests.request_fixtures import sd_profile

if TYPE_CHECKING:
    from pipeline.loras import LoraCatalog

SETTINGS = GenerationSettings()
STYLES = {
    "cinematic": StyleSettings(
        prompt="cinematic still of {prompt}, film grain", negative="cartoon", model="xl"
    ),
    "ink": StyleSettings(prompt="ink drawing of {prompt}", negative="colour"),
    "plain": StyleSettings(prompt="{prompt}, highly detailed"),
}


def builder() -> RequestBuilder:
    """Return a builder over an SD model (default), an SDXL one and a FLUX one, with styles."""
    profiles = [
        sd_profile(),
        profile_of("xl", ModelTraits("sdxl", (1024, 1024)), None, SETTINGS),
        profile_of("flux", ModelTraits("flux", (1024, 1024)), None, SETTINGS),
    ]
    catalog = ModelCatalog(profiles, "sd")
    return RequestBuilder(catalog, SETTINGS, InputImageSettings(), styles=STYLES)


def test_a_style_wraps_the_drawn_prompt_but_not_the_shown_one() -> None:
    """Draw the template around the prompt, while the request still shows the member's words."""
    request = builder().parse("a red fox --style ink --no snow")
    assert request.drawn_prompt == "ink drawing of a red fox"
    assert request.drawn_negative == "snow, colour"
    assert (request.prompt, request.negative_prompt, request.style) == ("a red fox", "snow", "ink")


def test_a_style_may_choose_its_model() -> None:
    """Draw with the style's model unless the prompt names another."""
    assert builder().parse("a fox --style cinematic").model == "xl"
    assert builder().parse("a fox --style cinematic --model sd").model == "sd"


def test_raw_means_no_style() -> None:
    """Draw the prompt as typed with --style raw."""
    request = builder().parse("a fox --style raw")
    assert (request.style, request.drawn_prompt) == ("", "a fox")


def test_an_unknown_style_is_refused_with_the_names() -> None:
    """Refuse a style not configured, listing those there are."""
    with pytest.raises(ParameterError, match="Styles: cinematic, ink, plain, raw"):
        builder().parse("a fox --style vaporwave")


def test_a_style_with_a_negative_is_refused_on_flux() -> None:
    """Refuse a style whose negative prompt a FLUX model cannot use."""
    with pytest.raises(ParameterError, match="cannot use; choose another style or --style raw"):
        builder().parse("a fox --style ink --model flux")
    assert builder().parse("a fox --style plain --model flux").style == "plain"


def test_buttons_keep_the_style() -> None:
    """Keep the style's texts on a variation of a styled image."""
    source = builder().parse("a fox --style ink --seed 3")
    varied = builder().variation_request(source, Path("1.png"))
    assert (varied.style, varied.drawn_prompt) == ("ink", "ink drawing of a fox")


def test_the_image_metadata_names_the_style_not_its_text() -> None:
    """Write the style's name into the parameters, keeping its hidden text out."""
    text = parameters_text(builder().parse("a fox --style ink"))
    assert "Style: ink" in text
    assert "ink drawing" not in text


@pytest.mark.parametrize("template", ["no placeholder", "{prompt} and {prompt}", "({prompt}:9)"])
def test_a_template_that_cannot_hold_the_prompt_is_refused(template: str) -> None:
    """Refuse a template without exactly one {prompt}, or with broken weighting."""
    with pytest.raises(ValidationError):
        StyleSettings(prompt=template)


def test_a_styles_steps_are_the_default_the_prompt_can_override() -> None:
    """Draw a style's steps unless the prompt gives --steps or --quality."""
    styles = {"quick": StyleSettings(prompt="{prompt}", steps=8)}
    requests = RequestBuilder(
        ModelCatalog([sd_profile()], "sd"), SETTINGS, InputImageSettings(), styles=styles
    )
    assert requests.parse("a fox --style quick").steps == 8
    assert requests.parse("a fox --style quick --steps 12").steps == 12


def test_a_styles_loras_apply_unless_the_prompt_weighs_them(lora_catalog: LoraCatalog) -> None:
    """Add a style's LoRAs, the prompt's own weight for one of them winning."""
    styles = {"inked": StyleSettings(prompt="{prompt}", loras={"sd-ink": 0.6, "sd-blur": 0.3})}
    requests = RequestBuilder(
        ModelCatalog([sd_profile()], "sd"),
        SETTINGS,
        InputImageSettings(),
        styles=styles,
        loras=lora_catalog,
    )
    request = requests.parse("a fox --style inked --lora sd-ink:1.2")
    assert request.loras == (LoraUse("sd-ink", 1.2), LoraUse("sd-blur", 0.3))


def test_a_styles_lora_weight_outside_minus_two_to_two_is_refused_at_start() -> None:
    """Refuse a config style whose LoRA weight no prompt could give."""
    with pytest.raises(ValidationError, match="outside -2 to 2"):
        StyleSettings(prompt="{prompt}", loras={"ink": 3.0})
