"""SDXL's own ways: two text encoders, pooled embeddings, zeros for empty prompts, single files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import torch
from torch import nn

from pipeline.config import PipelineConfig
from pipeline.engine import Engine
from pipeline.families.sdxl import DualClipEncoder
from tests.pipeline.sdxl_checkpoint import save_sdxl_single_file
from tests.pipeline.tiny_families import SDXL_TEXT_2_WIDTH, SDXL_TEXT_WIDTH

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.families.base import Embeddings


@pytest.fixture(scope="module")
def encoder(sdxl_engine: Engine) -> DualClipEncoder:
    """Build the SDXL prompt encoder over the session engine's text encoders."""
    return DualClipEncoder(sdxl_engine.model.txt2img, torch.device("cpu"))


def halves(embeddings: Embeddings) -> tuple[torch.Tensor, torch.Tensor]:
    """Split the token states into the first and the second encoder's."""
    tokens = embeddings.tokens
    return tokens[..., :SDXL_TEXT_WIDTH], tokens[..., SDXL_TEXT_WIDTH:]


def test_weighting_changes_both_encoders_states(encoder: DualClipEncoder) -> None:
    """Encode (word:1.5) differently from the plain word in each encoder's half."""
    weighted = encoder.encode(["a (red:1.5) fox"])
    plain = encoder.encode(["a red fox"])
    for weighted_half, plain_half in zip(halves(weighted), halves(plain), strict=True):
        assert not torch.allclose(weighted_half, plain_half, atol=1e-4)


def test_pooled_embeddings_have_the_second_encoders_width(encoder: DualClipEncoder) -> None:
    """Give one pooled row per prompt, as wide as the second encoder's projection."""
    embeddings = encoder.encode(["a red fox", "a blue star"])
    assert embeddings.tokens.shape == (2, 77, SDXL_TEXT_WIDTH + SDXL_TEXT_2_WIDTH)
    assert embeddings.pooled is not None
    assert embeddings.pooled.shape == (2, SDXL_TEXT_2_WIDTH)


def test_empty_prompt_encodes_to_zeros(encoder: DualClipEncoder) -> None:
    """Encode an empty (negative) prompt as zeros, as force_zeros_for_empty_prompt says."""
    embeddings = encoder.encode(["", "a red fox"])
    assert embeddings.pooled is not None
    assert not embeddings.tokens[0].any()
    assert not embeddings.pooled[0].any()
    assert embeddings.tokens[1].any()
    assert embeddings.pooled[1].any()


def test_long_prompts_are_not_truncated(encoder: DualClipEncoder) -> None:
    """Encode a prompt beyond 77 tokens in more chunks, padding the short one to match."""
    long_prompt = "red " * 60  # the tiny tokenizers spend one token a character
    tokens = encoder.encode([long_prompt, "fox"]).tokens
    assert tokens.shape[1] > 77
    assert tokens.shape[1] % 77 == 0
    assert tokens.shape[2] == SDXL_TEXT_WIDTH + SDXL_TEXT_2_WIDTH


def test_tile_changes_the_image_and_restores_the_padding(sdxl_engine: Engine) -> None:
    """Draw differently with --tile, and leave zero padding in the UNet and the VAE after."""
    plain = sdxl_engine.generate(sdxl_engine.parse("a red circle --seed 3 --steps 2"))
    tiled = sdxl_engine.generate(sdxl_engine.parse("a red circle --seed 3 --steps 2 --tile"))
    assert plain.images[0].tobytes() != tiled.images[0].tobytes()
    pipe = sdxl_engine.model.txt2img
    modes = {
        layer.padding_mode
        for module in (pipe.unet, pipe.vae)
        for layer in module.modules()
        if isinstance(layer, nn.Conv2d)
    }
    assert modes == {"zeros"}


def test_single_file_loads_offline_and_draws_like_the_folder(
    sdxl_engine: Engine, tiny_sdxl_dir: Path, tmp_path: Path
) -> None:
    """Load an original-layout SDXL file with config: the folder, and draw the same pixels."""
    checkpoint = save_sdxl_single_file(sdxl_engine.model.txt2img, tmp_path / "tiny.safetensors")
    config = PipelineConfig.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "model": {
                "path": str(checkpoint),
                "config": str(tiny_sdxl_dir),
                "device": "cpu",
                "cpu_threads": 1,
            },
            "generation": {"steps": 4, "sampler": "Euler", "guidance": 5.0},
        }
    )
    from_file = Engine.from_config(config)
    assert from_file.model.family.name == "sdxl"
    assert type(from_file.model.txt2img).__name__ == "StableDiffusionXLPipeline"
    request = sdxl_engine.parse("a red circle --seed 4 --steps 2")
    drawn = [image.tobytes() for image in from_file.generate(request).images]
    assert drawn == [image.tobytes() for image in sdxl_engine.generate(request).images]


def test_all_pipelines_share_the_modules(sdxl_engine: Engine) -> None:
    """Keep one copy of the UNet, VAE and both text encoders for all three pipelines."""
    model = sdxl_engine.model
    names = ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer_2")
    for pipe in (model.img2img, model.inpaint):
        for name in names:
            assert getattr(pipe, name) is getattr(model.txt2img, name)
