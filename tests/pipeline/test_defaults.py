"""Server, channel and member defaults: what they fill in, and what the prompt still decides."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pipeline.config import GenerationSettings, InputImageSettings, StyleSettings
from pipeline.defaults import JobDefaults, join_terms
from pipeline.errors import ParameterError
from pipeline.families.base import ModelTraits
from pipeline.models import ModelCatalog, profile_of
from pipeline.request_builder import RequestBuilder
from tests.request_fixtures import sd_profile

if TYPE_CHECKING:
    from pathlib import Path

SETTINGS = GenerationSettings(steps=25, max_steps=60)
CONFIG_STYLES = {"ink": StyleSettings(prompt="ink drawing of {prompt}", negative="colour")}


def builder() -> RequestBuilder:
    """Return a builder over an SD model (default), an SDXL one and a FLUX one."""
    profiles = [
        sd_profile(),
        profile_of("xl", ModelTraits("sdxl", (1024, 1024)), None, SETTINGS),
        profile_of("flux", ModelTraits("flux", (1024, 1024)), None, SETTINGS),
    ]
    return RequestBuilder(
        ModelCatalog(profiles, "sd"), SETTINGS, InputImageSettings(), styles=CONFIG_STYLES
    )


def test_a_default_model_applies_when_the_prompt_names_none() -> None:
    """Draw on the default model a channel or member chose."""
    assert builder().parse("a fox", defaults=JobDefaults(model="xl")).model == "xl"


def test_the_prompt_and_the_option_override_the_default_model() -> None:
    """Let --model and the command's option win over a default model."""
    defaults = JobDefaults(model="xl")
    assert builder().parse("a fox --model flux", defaults=defaults).model == "flux"
    assert builder().parse("a fox", model="sd", defaults=defaults).model == "sd"


def test_a_default_model_the_server_no_longer_has_is_passed_over() -> None:
    """Use the server's default model when a stored default names a removed one."""
    assert builder().parse("a fox", defaults=JobDefaults(model="gone")).model == "sd"


def test_a_default_aspect_ratio_applies_unless_the_prompt_gives_one() -> None:
    """Size by the default --ar, and by the prompt's own when it has one."""
    defaults = JobDefaults(aspect="16:9")
    wide = builder().parse("a fox", defaults=defaults)
    tall = builder().parse("a fox --ar 9:16", defaults=defaults)
    assert wide.width > wide.height
    assert tall.width < tall.height


def test_an_image_prompt_keeps_its_own_shape_over_a_default_aspect(tmp_path: Path) -> None:
    """Size an image prompt's job by the image, not by a default --ar."""
    request = builder().parse(
        "a fox", init_image=tmp_path, init_size=(300, 600), defaults=JobDefaults(aspect="16:9")
    )
    assert request.width < request.height


def test_a_members_avoid_list_applies_unless_the_prompt_gives_no() -> None:
    """Add the member's --no list, and let the prompt's own --no replace it."""
    defaults = JobDefaults(avoid="text, watermark")
    assert builder().parse("a fox", defaults=defaults).negative_prompt == "text, watermark"
    assert builder().parse("a fox --no people", defaults=defaults).negative_prompt == "people"


def test_an_enforced_negative_cannot_be_removed_by_the_prompt() -> None:
    """Keep the enforced negative whatever the member's negative and --no say."""
    defaults = JobDefaults(enforced_negative="gore", avoid="text")
    request = builder().parse("a fox --no people", negative_prompt="blur", defaults=defaults)
    assert request.negative_prompt == "blur, people, gore"


def test_an_enforced_negative_is_not_added_twice() -> None:
    """Leave the negative prompt alone when it already holds every enforced term."""
    defaults = JobDefaults(enforced_negative="gore, blood")
    request = builder().parse("a fox --no blood, gore", defaults=defaults)
    assert request.negative_prompt == "blood, gore"


def test_buttons_jobs_keep_the_enforced_negative(tmp_path: Path) -> None:
    """Add the enforced negative to variations, upscales and rerolls of older images."""
    source = builder().parse("a fox")
    defaults = JobDefaults(enforced_negative="gore")
    requests = builder()
    assert requests.variation_request(source, tmp_path, defaults=defaults).negative_prompt == "gore"
    assert requests.upscale_request(source, tmp_path, defaults=defaults).negative_prompt == "gore"
    assert requests.reroll_request(source, defaults=defaults).negative_prompt == "gore"


def test_flux_jobs_are_not_refused_for_an_enforced_negative() -> None:
    """Draw FLUX jobs (which have no negative prompt) in a channel with an enforced one."""
    request = builder().parse("a fox --model flux", defaults=JobDefaults(enforced_negative="gore"))
    assert request.negative_prompt == ""


def test_a_steps_cap_refuses_more_steps_with_the_cap() -> None:
    """Refuse --steps above the channel's cap, naming the cap."""
    with pytest.raises(ParameterError, match="from 1 to 20"):
        builder().parse("a fox --steps 30", defaults=JobDefaults(max_steps=20))


def test_default_steps_yield_to_a_steps_cap() -> None:
    """Draw with the cap's steps when the model's default is above it."""
    assert builder().parse("a fox", defaults=JobDefaults(max_steps=10)).steps == 10


def test_a_cap_never_loosens_the_configs_limit() -> None:
    """Keep the config's max_steps when a channel's cap is above it."""
    with pytest.raises(ParameterError, match="from 1 to 60"):
        builder().parse("a fox --steps 80", defaults=JobDefaults(max_steps=100))


def test_a_size_cap_scales_the_image_down_keeping_its_shape() -> None:
    """Draw at most the channel's pixels, at the asked aspect ratio."""
    request = builder().parse("a fox --ar 2:1", defaults=JobDefaults(max_pixels=256 * 256))
    assert request.pixels <= 256 * 256
    assert request.width / request.height == pytest.approx(2, rel=0.05)


def test_a_size_cap_limits_upscales(tmp_path: Path) -> None:
    """Refuse an upscale past the channel's pixel cap."""
    source = builder().parse("a fox")
    with pytest.raises(ParameterError, match="limit"):
        builder().upscale_request(source, tmp_path, defaults=JobDefaults(max_pixels=600 * 600))


def test_a_default_style_applies_unless_the_prompt_gives_one() -> None:
    """Apply the default style, and let --style raw or another style replace it."""
    defaults = JobDefaults(style="ink")
    assert builder().parse("a fox", defaults=defaults).style == "ink"
    assert builder().parse("a fox --style raw", defaults=defaults).style == ""


def test_a_servers_own_style_is_offered_beside_the_configs() -> None:
    """Apply a style the server's moderators added."""
    styles = {"neon": StyleSettings(prompt="neon sign of {prompt}")}
    request = builder().parse("a fox --style neon", defaults=JobDefaults(styles=styles))
    assert request.drawn_prompt == "neon sign of a fox"


def test_a_default_style_the_server_no_longer_has_is_passed_over() -> None:
    """Draw without a style when the stored default names a removed one."""
    assert builder().parse("a fox", defaults=JobDefaults(style="gone")).style == ""


def test_join_terms_drops_empty_and_repeated_terms() -> None:
    """Join negative texts term by term, each once."""
    assert join_terms("a, b", "", " b ,c", "a") == "a, b, c"
