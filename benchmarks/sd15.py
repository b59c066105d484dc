"""A randomly initialised Stable Diffusion 1.5, for timing the real model's shapes offline.

The UNet, VAE and text encoder are built from SD 1.5's published configs, so every layer and
every FLOP is the real model's; only the weights are random (nothing is downloaded). Both GPU
benchmarks load it through Easel's own loader, like a server owner's checkpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel

# The tests' offline byte-level CLIP tokenizer (no download); its ids fit SD 1.5's embedding.
from tests.pipeline.tiny_model import build_tokenizer

if TYPE_CHECKING:
    from pathlib import Path


def prepare_random_sd15(folder: Path) -> Path:
    """Return a saved random SD 1.5 pipeline under ``folder``, building it on first use."""
    model_dir = folder / "sd15-random"
    if not (model_dir / "model_index.json").exists():
        build_random_sd15(model_dir)
    return model_dir


def build_random_sd15(folder: Path) -> None:
    """Save a randomly initialised pipeline with SD 1.5's architecture (about 2 GB in fp16)."""
    tokenizer = build_tokenizer()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
        )
    )
    unet = UNet2DConditionModel(**SD15_UNET)
    vae = AutoencoderKL(**SD15_VAE)
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    pipe: Any = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(torch.float16).save_pretrained(folder)


# The published architecture of Stable Diffusion 1.5 (its UNet and VAE config.json files).
SD15_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": (
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ),
    "up_block_types": (
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ),
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
SD15_VAE: dict[str, Any] = {
    "sample_size": 512,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
}
