"""Stable Diffusion 1/2's own ways: one CLIP encoder, CFG with negative prompts, UNet samplers."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
import torch

from pipeline.errors import ParameterError
from pipeline.families.sd import ClipEncoder, StableDiffusionFamily
from pipeline.samplers import UNET_SAMPLERS
from tests.pipeline.tiny_model import build_tiny_pipeline

if TYPE_CHECKING:
    from pipeline.engine import Engine


class FlaggingPipe:
    """The real SD pipeline, with a safety checker that flags the second image of each call."""

    def __init__(self, pipe: Any) -> None:
        object.__setattr__(self, "_pipe", pipe)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._pipe, name, value)

    def __call__(self, **arguments: Any) -> Any:
        """Draw with the real pipeline, then add the safety checker's verdicts."""
        output = self._pipe(**arguments)
        output.nsfw_content_detected = [index == 1 for index in range(len(output.images))]
        return output


def test_encoder_clamps_an_unlimited_tokenizer_to_clips_77_tokens() -> None:
    """Read a tokenizer saved without a limit in CLIP's 77-token chunks."""
    pipe = build_tiny_pipeline()
    pipe.tokenizer.model_max_length = int(1e30)
    embeddings = ClipEncoder(pipe, torch.device("cpu")).encode(["a red fox"])
    assert pipe.tokenizer.model_max_length == 77
    assert embeddings.tokens.shape[:2] == (1, 77)


def test_encoder_gives_no_pooled_embeddings(tiny_engine: Engine) -> None:
    """Encode token states only: SD's UNet reads no pooled summary."""
    encoder = ClipEncoder(tiny_engine.model.txt2img, torch.device("cpu"))
    assert encoder.encode(["a red fox"]).pooled is None


def test_call_carries_the_negative_prompt_and_cfg(tiny_engine: Engine) -> None:
    """Pass the negative embeddings and classifier-free guidance to the pipeline."""
    encoder = ClipEncoder(tiny_engine.model.txt2img, torch.device("cpu"))
    positive, negative = encoder.encode(["a red fox"]), encoder.encode(["blue"])
    arguments = StableDiffusionFamily().call_arguments(positive, negative, 6.5)
    assert arguments["prompt_embeds"] is positive.tokens
    assert arguments["negative_prompt_embeds"] is negative.tokens
    assert arguments["guidance_scale"] == 6.5


def test_flow_sampler_is_refused_with_the_unet_samplers(tiny_engine: Engine) -> None:
    """Refuse FLUX's Flow Euler on an SD model, listing the samplers it can use."""
    with pytest.raises(ParameterError, match="--sampler Flow Euler") as refused:
        tiny_engine.parse("a red circle --sampler Flow Euler")
    assert refused.match(", ".join(UNET_SAMPLERS).replace("+", r"\+"))


def test_the_models_safety_checker_is_heard(tiny_engine: Engine) -> None:
    """Carry the SD pipeline's own safety verdicts onto each image of the result."""
    model = replace(tiny_engine.model, txt2img=FlaggingPipe(tiny_engine.model.txt2img))
    engine = type(tiny_engine)(
        model, tiny_engine.settings, tiny_engine.input_limits, profile=tiny_engine.profile
    )
    request = replace(tiny_engine.parse("a red circle --steps 1 --seed 1"), num_images=3)
    assert engine.generate(request).flagged == (False, True, False)
