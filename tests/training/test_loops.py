"""Training: a few real steps of each phase, checkpointed, resumed and exported."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from diffusers import StableDiffusionPipeline

from training.export import assemble, save_model
from training.loops import (
    TrainingPlan,
    load_denoiser,
    tokenizer_for,
    train_denoiser,
    train_vae,
)

if TYPE_CHECKING:
    from pathlib import Path


def test_a_short_run_resumes_from_its_checkpoint_and_exports_a_standard_model(
    tmp_path: Path,
) -> None:
    """Continue an interrupted run where it stopped, then load the export with plain diffusers."""
    plan = TrainingPlan(
        workdir=tmp_path / "work", vae_steps=2, vae_batch=4, unet_steps=2, unet_batch=4,
        checkpoint_every=1,
    )  # fmt: skip
    plan.workdir.mkdir()
    tokenizer = tokenizer_for(plan)
    vae = train_vae(plan)
    assert vae.config.scaling_factor > 0
    train_denoiser(plan, vae, tokenizer)
    first = torch.load(plan.workdir / "denoiser-checkpoint.pt", weights_only=False)
    assert first["step"] == 2

    longer = TrainingPlan(**{**plan.__dict__, "unet_steps": 3})
    train_denoiser(longer, vae, tokenizer)
    resumed = torch.load(plan.workdir / "denoiser-checkpoint.pt", weights_only=False)
    assert resumed["step"] == 3

    save_model(assemble(vae, tokenizer, load_denoiser(longer, tokenizer)), tmp_path / "model")
    pipeline = StableDiffusionPipeline.from_pretrained(tmp_path / "model")
    image = pipeline("a red circle", num_inference_steps=2, output_type="pil").images[0]
    assert image.size == (64, 64)
