"""Build a tiny random-weight Stable Diffusion pipeline offline, for fast engine tests.

Random weights draw noise, but noise that is a deterministic function of seed, prompt and
parameters: enough to test reproducibility, batching, cancellation and sizes in milliseconds.
Tests about what an image *means* use the shipped default model instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from training.tokenizer import byte_vocabulary

if TYPE_CHECKING:
    from pathlib import Path

TEXT_WIDTH = 32


def build_tokenizer() -> CLIPTokenizer:
    """Build a byte-level CLIP tokenizer with no merges: every character is one token."""
    return CLIPTokenizer(vocab=byte_vocabulary(), merges=[], model_max_length=77)


def build_tiny_pipeline() -> StableDiffusionPipeline:
    """Assemble a seeded random pipeline whose native size is 32×32."""
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=TEXT_WIDTH,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=16,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=32,
    )
    scheduler = EulerDiscreteScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def save_tiny_pipeline(folder: Path) -> Path:
    """Save the tiny pipeline as a diffusers folder and return its path."""
    build_tiny_pipeline().save_pretrained(folder)
    return folder
