"""Assemble the trained parts into a standard Stable Diffusion folder, and sample sheets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from diffusers import AutoencoderKL, StableDiffusionPipeline
from PIL import Image

from training.architecture import shipped_scheduler

if TYPE_CHECKING:
    from pathlib import Path

    from transformers import CLIPTokenizer

    from training.loops import Denoiser

SAMPLE_PROMPTS = (
    "a red circle on a blue background",
    "a yellow star on a purple background",
    "a green square on a white background in the top left",
    "a white triangle on a black backdrop",
    # Held out from training:
    "a blue circle on a white background",
    "a red star on a black background",
    "a yellow square on a purple background",
    "an orange circle on a yellow background",
)


def assemble(
    vae: AutoencoderKL, tokenizer: CLIPTokenizer, denoiser: Denoiser
) -> StableDiffusionPipeline:
    """Return a pipeline of the averaged weights, with no safety checker (nothing to check)."""
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=denoiser.ema_text.model,
        tokenizer=tokenizer,
        unet=denoiser.ema_unet.model,
        scheduler=shipped_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def save_model(pipeline: StableDiffusionPipeline, folder: Path) -> None:
    """Save the pipeline as float32 safetensors.

    Float16 would halve the size, but plain ``from_pretrained`` keeps the stored dtype and
    float16 does not run on CPUs; in float32 the whole model is still under 20 MB.
    """
    pipeline.save_pretrained(folder, safe_serialization=True)


@torch.no_grad()
def sample_sheet(pipeline: StableDiffusionPipeline, path: Path, steps: int = 20) -> None:
    """Draw four images of every sample prompt, from the same seed, into one sheet: a row each."""
    rows = []
    for prompt in SAMPLE_PROMPTS:
        generator = torch.Generator().manual_seed(0)
        images = pipeline(
            [prompt] * 4, num_inference_steps=steps, guidance_scale=5.0, generator=generator
        ).images
        rows.append(images)
    size = rows[0][0].width
    sheet = Image.new("RGB", (size * 4, size * len(rows)))
    for y, row in enumerate(rows):
        for x, image in enumerate(row):
            sheet.paste(image, (x * size, y * size))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
