"""Generation parameters in the images: A1111's text, in PNG chunks and EXIF comments."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from PIL import Image

from pipeline.images import save_outputs
from pipeline.lora_syntax import LoraUse
from pipeline.metadata import (
    exif_comment,
    grid_parameters_text,
    parameters_text,
    png_info,
    read_parameters,
)
from pipeline.request import GenerationRequest

REQUEST = GenerationRequest(
    prompt="a red fox, in the snow",
    negative_prompt="people, text",
    width=512,
    height=768,
    steps=25,
    guidance=7.0,
    seed=41,
    sampler="Euler a",
    model="sdxl-base",
)


def test_one_image_reads_as_a1111_writes_it() -> None:
    """Lay out prompt, negative prompt and settings line as A1111's PNG Info shows them."""
    assert parameters_text(REQUEST, seed=42) == (
        "a red fox, in the snow\n"
        "Negative prompt: people, text\n"
        "Steps: 25, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x768, Model: sdxl-base"
    )


def test_a_grid_carries_every_images_seed() -> None:
    """Give a grid the first seed, and each image's quoted under Grid seeds."""
    line = grid_parameters_text(REQUEST).splitlines()[-1]
    assert 'Seed: 41, Grid seeds: "41, 42, 43, 44"' in line


def test_no_negative_prompt_line_without_one() -> None:
    """Leave the negative prompt line out when there is none."""
    text = parameters_text(replace(REQUEST, negative_prompt=""))
    assert "Negative prompt" not in text
    assert len(text.splitlines()) == 2


def test_an_image_prompt_states_its_denoising_strength() -> None:
    """Name img2img's strength as A1111 does."""
    request = replace(REQUEST, init_image=Path("in.png"), strength=0.35, operation="img2img")
    assert "Denoising strength: 0.35" in parameters_text(request)


def test_saved_outputs_carry_their_own_seed(tmp_path: Path) -> None:
    """Write each saved PNG's parameters with that image's seed."""
    images = [Image.new("RGB", (8, 8)) for _ in range(2)]
    texts = [parameters_text(REQUEST, seed=seed) for seed in (41, 42)]
    paths = save_outputs(tmp_path / "job", images, texts)
    read = [read_parameters(Image.open(path)) for path in paths]
    assert read == texts


def test_unicode_survives_the_png_chunk() -> None:
    """Keep a prompt beyond Latin-1 intact in the PNG (as iTXt)."""
    text = parameters_text(replace(REQUEST, prompt="雪の中の狐 🦊"))
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG", pnginfo=png_info(text))
    assert read_parameters(Image.open(io.BytesIO(buffer.getvalue()))) == text


def test_webp_and_jpeg_carry_it_in_the_exif_user_comment() -> None:
    """Read the same text back from EXIF's UserComment of a WebP and a JPEG."""
    text = parameters_text(replace(REQUEST, prompt="雪の中の狐"))
    for image_format in ("WEBP", "JPEG"):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buffer, format=image_format, exif=exif_comment(text))
        assert read_parameters(Image.open(io.BytesIO(buffer.getvalue()))) == text


def test_loras_are_written_as_a1111_writes_them() -> None:
    """Append each LoRA's <lora:NAME:WEIGHT> to the prompt and list the weights."""
    request = replace(REQUEST, loras=(LoraUse("ink", 0.8), LoraUse("pixel", 1.0)))
    prompt, _, line = parameters_text(request).splitlines()
    assert prompt == "a red fox, in the snow <lora:ink:0.8> <lora:pixel:1>"
    assert 'Lora weights: "ink: 0.8, pixel: 1"' in line


def test_chaos_is_recorded() -> None:
    """Record --chaos in the settings line."""
    assert "Chaos: 40" in parameters_text(replace(REQUEST, chaos=40))
