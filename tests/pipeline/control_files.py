"""Tiny random ControlNets for the tiny models of every family, saved as diffusers folders.

A fresh ControlNet's output layers are zeros, so it would change nothing; these are nudged
to random values, so a test can tell a guided image from an unguided one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from diffusers import (
    ControlNetModel,
    FluxControlNetModel,
    FluxTransformer2DModel,
    UNet2DConditionModel,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine


def save_tiny_controlnet(engine: Engine, folder: Path) -> Path:
    """Derive a ControlNet from the model's denoiser, randomise its zeroed layers, save it.

    The denoiser is read from the model's files: the session's engine may carry LoRA layers.
    """
    torch.manual_seed(5)
    path = engine.model.name
    if engine.model.family.name == "flux":
        transformer = FluxTransformer2DModel.from_pretrained(path, subfolder="transformer")
        controlnet: Any = FluxControlNetModel.from_transformer(
            transformer,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=transformer.config.attention_head_dim,
            num_attention_heads=transformer.config.num_attention_heads,
        )
    else:
        downsamples = int(math.log2(engine.model.txt2img.vae_scale_factor))
        channels = tuple(8 * 2**index for index in range(downsamples + 1))
        unet = UNet2DConditionModel.from_pretrained(path, subfolder="unet")
        controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=channels)
    with torch.no_grad():
        for name, parameter in controlnet.named_parameters():
            if "zero" in name or "controlnet_" in name:
                parameter.normal_(0, 0.2)
    controlnet.save_pretrained(folder)
    return folder
