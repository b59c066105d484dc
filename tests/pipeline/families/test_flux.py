"""FLUX's own ways: no negative prompt, no tiling, guidance only on dev-like models, packing."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
import torch
from PIL import Image

from pipeline.config import GenerationSettings
from pipeline.errors import ParameterError
from pipeline.families.base import ModelDefaults
from pipeline.families.flux import ClipT5Encoder
from pipeline.models import profile_of

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine, Progress


@pytest.mark.parametrize("fixture", ["flux_engine", "flux_dev_engine"])
def test_negative_prompts_are_refused(request: pytest.FixtureRequest, fixture: str) -> None:
    """Refuse --no and a negative prompt on FLUX, saying why and what to do instead."""
    engine: Engine = request.getfixturevalue(fixture)
    expected = r"FLUX\.1 models have no negative prompt.*describe what you want"
    with pytest.raises(ParameterError, match=expected):
        engine.parse("a red circle --no blue")
    with pytest.raises(ParameterError, match=expected):
        engine.parse("a red circle", negative_prompt="blue")


def test_tile_is_refused(flux_engine: Engine) -> None:
    """Refuse --tile on FLUX rather than ignore it."""
    with pytest.raises(ParameterError, match=r"--tile does not work with FLUX\.1"):
        flux_engine.parse("a red circle --tile")


def test_cfg_is_refused_on_schnell_like_models(flux_engine: Engine) -> None:
    """Refuse --cfg on a model whose guidance is distilled away."""
    with pytest.raises(ParameterError, match=r"--cfg has no effect on tiny-flux"):
        flux_engine.parse("a red circle --cfg 4")


def test_cfg_sets_the_guidance_of_dev_like_models(flux_dev_engine: Engine) -> None:
    """Accept --cfg on a model with a guidance input, and draw differently for it."""
    plain = flux_dev_engine.parse("a red circle --seed 3 --steps 2")
    guided = flux_dev_engine.parse("a red circle --seed 3 --steps 2 --cfg 8")
    assert guided.guidance == 8.0
    first = flux_dev_engine.generate(replace(plain, num_images=1)).images[0]
    second = flux_dev_engine.generate(replace(guided, num_images=1)).images[0]
    assert first.tobytes() != second.tobytes()


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("flux_engine", ModelDefaults(4, 0.0, "Flow Euler")),
        ("flux_dev_engine", ModelDefaults(28, 3.5, "Flow Euler")),
    ],
)
def test_defaults_come_from_the_model(
    request: pytest.FixtureRequest, fixture: str, expected: ModelDefaults
) -> None:
    """Default schnell-like models to 4 steps, guidance 0; dev-like ones to 28 and 3.5."""
    engine: Engine = request.getfixturevalue(fixture)
    assert engine.settings.steps == 4  # the server's own default, which FLUX does not take
    assert engine.profile.defaults == expected
    parsed = engine.parse("a red circle")
    assert (parsed.steps, parsed.guidance, parsed.sampler) == (
        expected.steps,
        expected.guidance,
        expected.sampler,
    )


def test_max_steps_clamps_the_dev_default(flux_dev_engine: Engine) -> None:
    """Cap the dev-like default of 28 steps at the server's max_steps."""
    settings = GenerationSettings(steps=4, max_steps=10, sampler="Euler")
    profile = profile_of("dev", flux_dev_engine.model.traits, None, settings)
    assert profile.defaults.steps == 10


def test_weighting_changes_the_t5_states_only(flux_engine: Engine) -> None:
    """Weight T5's token states with (word:1.5); CLIP's pooled summary reads the plain words."""
    encoder = ClipT5Encoder(flux_engine.model.txt2img, torch.device("cpu"))
    weighted = encoder.encode(["a (red:1.5) fox"])
    plain = encoder.encode(["a red fox"])
    assert not torch.allclose(weighted.tokens, plain.tokens, atol=1e-4)
    assert weighted.pooled is not None
    assert plain.pooled is not None
    assert torch.equal(weighted.pooled, plain.pooled)


def test_previews_unpack_the_latents_at_the_output_size(flux_engine: Engine) -> None:
    """Turn packed 2×2 latent patches into previews of the output's size and shape."""
    events: list[Progress] = []
    request = replace(flux_engine.parse("a red circle --ar 2:1 --seed 1"), num_images=1)
    assert (request.width, request.height) == (96, 48)
    flux_engine.generate(request, progress=events.append)
    sizes = [preview.size for event in events for preview in event.previews]
    assert sizes == [(96, 48)]


def test_img2img_draws_at_the_requested_size(flux_engine: Engine, tmp_path: Path) -> None:
    """Draw an image prompt at the request's size, not FluxImg2ImgPipeline's 1024 default."""
    init = tmp_path / "init.png"
    Image.radial_gradient("L").convert("RGB").resize((300, 100)).save(init)
    request = replace(
        flux_engine.parse("a red circle --steps 2 --seed 1", init_image=init), num_images=1
    )
    assert request.width % 16 == request.height % 16 == 0
    (image,) = flux_engine.generate(request).images
    assert image.size == (request.width, request.height)
    assert image.size != (1024, 1024)


def test_all_pipelines_share_the_modules(flux_engine: Engine) -> None:
    """Keep one copy of the transformer, VAE and both text encoders for all three pipelines."""
    model = flux_engine.model
    names = ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer_2")
    for pipe in (model.img2img, model.inpaint):
        for name in names:
            assert getattr(pipe, name) is getattr(model.txt2img, name)
