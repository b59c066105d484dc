"""The inline-parameter parser: what users type inside a prompt becomes a request, or an error."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.config import GenerationSettings
from pipeline.errors import ParameterError, PromptError
from pipeline.families.base import ModelTraits
from pipeline.lora_syntax import LoraUse
from pipeline.models import profile_of
from pipeline.request import GenerationRequest, parse_request, size_for_aspect
from tests.request_fixtures import sd_profile

SETTINGS = GenerationSettings(steps=25, max_steps=60, guidance=7.0, sampler="Euler a")
NATIVE = (512, 512)
PROFILE = profile_of("sd15", ModelTraits("sd", NATIVE), None, SETTINGS)


def parse(text: str, **options: object) -> GenerationRequest:
    """Parse with fixed settings and a fixed seed source."""
    defaults: dict[str, object] = {
        "settings": SETTINGS,
        "profile": PROFILE,
        "seed_source": lambda: 1234,
    }
    defaults.update(options)
    return parse_request(text, **defaults)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a red fox", {"prompt": "a red fox", "seed": 1234, "steps": 25, "width": 512}),
        ("a fox --seed 7", {"prompt": "a fox", "seed": 7}),
        ("a fox --seed 4294967295", {"seed": 4294967295}),
        ("a fox --ar 16:9", {"width": 680, "height": 384}),
        ("a fox --ar 2:3", {"width": 416, "height": 624}),
        ("a fox --ar 1:1", {"width": 512, "height": 512}),
        ("a fox --aspect 9:16", {"width": 384, "height": 680}),
        ("a fox --steps 60", {"steps": 60}),
        ("a fox --cfg 3.5", {"guidance": 3.5}),
        ("a fox --cfg 0", {"guidance": 0.0}),
        ("a fox --sampler DPM++ 2M Karras", {"sampler": "DPM++ 2M Karras"}),
        ("a fox --sampler dpmpp_2m_karras", {"sampler": "DPM++ 2M Karras"}),
        ("a fox --sampler euler_a", {"sampler": "Euler a"}),
        ("a fox --tile", {"tile": True}),
        ("a fox --fast", {"fast": True}),
        ("a fox --fast on", {"fast": True}),
        ("a fox --fast OFF", {"fast": False}),
        ("a fox", {"fast": False}),
        ("a fox --no people, text", {"negative_prompt": "people, text"}),
        ("a fox \u2014ar 16:9 \u2014seed 3", {"width": 680, "seed": 3}),
        ("a fox --seed \uff17\uff17", {"seed": 77}),
        ("a fox --SEED 5 --Ar 1:1", {"seed": 5}),
        (
            "renard rouge sous la neige, 雪の中の狐 --seed 1",
            {"prompt": "renard rouge sous la neige, 雪の中の狐"},
        ),
        ("a well-known fox--seed", {"prompt": "a well-known fox--seed"}),
        ("a fox (red:1.3) [snow] --seed 2", {"prompt": "a fox (red:1.3) [snow]"}),
    ],
)
def test_valid_prompts_parse_to_the_expected_request(
    text: str, expected: dict[str, object]
) -> None:
    """Parse each valid prompt into a request with the expected fields."""
    request = parse(text)
    for name, value in expected.items():
        assert getattr(request, name) == value, name


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("a fox --foo 3", "--foo"),
        ("a fox --seed -1", "--seed"),
        ("a fox --seed 4294967296", "--seed"),
        ("a fox --seed 99999999999999999999999999999999", "--seed"),
        ("a fox --seed " + "9" * 5000, "--seed"),
        ("a fox --seed ٣", "--seed"),
        ("a fox --seed 1.5", "--seed"),
        ("a fox --seed", "--seed"),
        ("a fox --steps 0", "--steps"),
        ("a fox --steps 61", "--steps"),
        ("a fox --steps 1e3", "--steps"),
        ("a fox --cfg nan", "--cfg"),
        ("a fox --cfg inf", "--cfg"),
        ("a fox --cfg 31", "--cfg"),
        ("a fox --cfg -1", "--cfg"),
        ("a fox --ar 16:0", "--ar"),
        ("a fox --ar 16x9", "--ar"),
        ("a fox --ar 16:9 in space", "--ar"),
        ("a fox --ar 100:1", "--ar"),
        ("a fox --ar 9999999:1", "--ar"),
        ("a fox --sampler warp drive", "--sampler"),
        ("a fox --tile please", "--tile"),
        ("a fox --fast please", "--fast"),
        ("a fox --no", "--no"),
        ("a fox --no , ,", "--no"),
        ("a fox --seed 1 --seed 2", "--seed"),
        ("a fox --strength 0.5", "--strength"),
    ],
)
def test_invalid_parameters_raise_an_error_naming_the_parameter(text: str, names: str) -> None:
    """Refuse each malformed or out-of-range parameter with a message that names it."""
    with pytest.raises(ParameterError) as caught:
        parse(text)
    assert names in str(caught.value)


def test_out_of_range_error_states_the_allowed_range() -> None:
    """Tell the user the range, not just that the value is wrong."""
    with pytest.raises(ParameterError, match="from 1 to 60"):
        parse("a fox --steps 500")


def test_empty_prompt_is_refused() -> None:
    """Refuse a prompt that is only parameters."""
    with pytest.raises(PromptError, match="empty"):
        parse("   --seed 3")


def test_overlong_prompt_is_refused_with_the_limit() -> None:
    """Refuse a prompt longer than the configured limit and state the limit."""
    with pytest.raises(PromptError, match="1500"):
        parse("fox " * 400)


def test_no_terms_are_appended_to_the_negative_prompt() -> None:
    """Append --no terms after the negative prompt given separately."""
    request = parse("a fox --no people, text", negative_prompt="blurry")
    assert request.negative_prompt == "blurry, people, text"


def test_image_prompt_takes_the_default_strength_and_keeps_its_aspect() -> None:
    """Give an image prompt the default strength and the init image's aspect ratio."""
    request = parse("a fox", init_image=Path("in.png"), init_size=(1024, 512))
    assert request.operation == "img2img"
    assert request.strength == SETTINGS.strength
    assert request.width / request.height == pytest.approx(2, rel=0.05)


def test_image_prompt_accepts_a_strength() -> None:
    """Use --strength when the prompt has an image."""
    request = parse("a fox --strength 0.3", init_image=Path("in.png"), init_size=(512, 512))
    assert request.strength == 0.3


def test_sizes_are_multiples_of_eight_near_the_native_pixel_count() -> None:
    """Round every aspect's sides to multiples of 8 at about the native pixel count."""
    for ratio in (1.0, 16 / 9, 9 / 16, 3 / 2, 4.0, 0.25, 7 / 5):
        width, height = size_for_aspect(ratio, 512 * 512)
        assert width % 8 == 0
        assert height % 8 == 0
        assert abs(width * height - 512 * 512) / (512 * 512) < 0.05
        assert width / height == pytest.approx(ratio, rel=0.03)


def test_each_image_seed_is_the_job_seed_plus_its_index() -> None:
    """Give image i the seed seed+i, wrapping at 2**32 so every seed can be typed back."""
    assert parse("a fox --seed 10").seeds == [10, 11, 12, 13]
    assert parse("a fox --seed 4294967295").seeds == [4294967295, 0, 1, 2]


def test_request_round_trips_through_a_dict() -> None:
    """Store and rebuild a request without loss (jobs are persisted this way)."""
    request = parse(
        "a fox --seed 3 --tile --fast", init_image=Path("/tmp/in.png"), init_size=(64, 64)
    )
    assert GenerationRequest.from_dict(request.to_dict()) == request


def test_a_request_stored_before_fast_existed_is_not_fast() -> None:
    """Rebuild a stored job without a fast field as a full-steps one."""
    stored = parse("a fox --seed 3").to_dict()
    del stored["fast"]
    assert not GenerationRequest.from_dict(stored).fast


@pytest.mark.parametrize(("text", "fast"), [("a fox", True), ("a fox --fast off", False)])
def test_a_server_default_of_fast_can_be_turned_off_per_prompt(text: str, fast: bool) -> None:
    """Draw every job fast where generation.fast is set, unless its prompt says --fast off."""
    settings = SETTINGS.model_copy(update={"fast": True})
    assert parse(text, settings=settings).fast is fast


@pytest.mark.parametrize(
    ("text", "steps"), [("--q .25", 6), ("--quality .5", 12), ("--q 1", 25), ("--q 2", 50)]
)
def test_quality_multiplies_the_default_steps(text: str, steps: int) -> None:
    """Turn --quality .25/.5/1/2 into that share of the default 25 steps."""
    assert parse(f"a fox {text}").steps == steps


def test_quality_stays_within_the_step_limit() -> None:
    """Cap --quality 2 at the server's max_steps."""
    settings = GenerationSettings(steps=40, max_steps=60)
    profile = sd_profile((512, 512), settings)
    assert parse("a fox --q 2", settings=settings, profile=profile).steps == 60


@pytest.mark.parametrize(("value", "guidance"), [("0", 8.75), ("100", 7.0), ("1000", 2.8)])
def test_stylize_scales_the_default_guidance(value: str, guidance: float) -> None:
    """Map --stylize 0/100/1000 onto 1.25x, 1x and 0.4x the default guidance."""
    assert parse(f"a fox --s {value}").guidance == pytest.approx(guidance)


def test_image_weight_sets_how_much_of_the_image_survives(tmp_path: Path) -> None:
    """Map --iw 0/1/3 onto strength 1.0, 0.7 and 0.1 for an image prompt."""
    image = tmp_path / "in.png"
    strengths = [
        parse(f"a fox --iw {weight}", init_image=image, init_size=(64, 64)).strength
        for weight in ("0", "1", "3")
    ]
    assert strengths == pytest.approx([1.0, 0.7, 0.1])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a fox --q 3", "--quality takes .25, .5, 1 or 2"),
        ("a fox --s 1001", "--stylize must be a number from 0 to 1000"),
        ("a fox --iw 1", "--iw only applies to image prompts"),
        ("a fox --steps 10 --q 2", "--steps and --quality set the same thing"),
        ("a fox --cfg 5 --s 50", "--cfg and --stylize set the same thing"),
        ("a fox --v 6", "--v picks one of Midjourney's models"),
        ("a fox --version 6", "--v picks one of Midjourney's models"),
        ("a fox --niji 6", "with --model NAME"),
    ],
)
def test_midjourney_parameters_are_checked_with_a_clear_error(text: str, words: str) -> None:
    """Refuse out-of-range, orphaned, doubled and Midjourney-only parameters by name."""
    with pytest.raises(ParameterError, match=re.escape(words)):
        parse(text)


def test_stop_takes_a_share_of_the_steps() -> None:
    """Read --stop 60 as finishing at 60 % of the steps; refuse values outside 10-100."""
    assert parse("a fox --stop 60").stop == 60
    assert parse("a fox").stop == 100
    with pytest.raises(ParameterError, match="--stop must be a whole number from 10 to 100"):
        parse("a fox --stop 5")


def test_a_request_with_loras_and_chaos_round_trips_through_a_dict() -> None:
    """Store and rebuild a request's LoRAs and chaos (buttons' jobs keep them)."""
    request = replace(
        parse("a fox --chaos 30"), loras=(LoraUse("ink", 0.8), LoraUse("pixel", -1.0))
    )
    rebuilt = GenerationRequest.from_dict(json.loads(json.dumps(request.to_dict())))
    assert rebuilt == request
    assert rebuilt.chaos == 30
