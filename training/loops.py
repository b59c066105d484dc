"""The two training phases: the autoencoder first, then the denoiser with the text encoder.

Both phases checkpoint to a work folder and resume from it, so a long CPU run survives an
interruption. Recipe, each part chosen by measurement on this world:
- the autoencoder learns with L1 + MSE and a tiny KL term: flat colours must come back
  exactly, or red drifts to orange through the whole model;
- the denoiser and the text encoder learn together (no pretrained text model exists offline);
- 10 % of captions are dropped to "" so classifier-free guidance works;
- Min-SNR-5 loss weighting and a little offset noise, so flat backgrounds get their colour;
- an exponential moving average of the weights is what gets shipped.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from torch.nn import functional
from tqdm import tqdm
from transformers import CLIPTextModel, CLIPTokenizer

from training.architecture import (
    build_text_encoder,
    build_unet,
    build_vae,
    training_scheduler,
)
from training.data import make_batch
from training.scenes import held_out_combinations
from training.tokenizer import build_tokenizer

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

CAPTION_DROPOUT = 0.1
OFFSET_NOISE = 0.05
MIN_SNR_GAMMA = 5.0


@dataclass(frozen=True)
class TrainingPlan:
    """How long and how hard to train; the defaults rebuild the shipped model."""

    workdir: Path
    seed: int = 0
    vae_steps: int = 3000
    vae_batch: int = 16
    unet_steps: int = 6500
    unet_batch: int = 32
    learning_rate: float = 3e-4
    warmup_steps: int = 200
    ema_decay: float = 0.999
    checkpoint_every: int = 250
    sample_every: int = 1000


def _save_atomically(state: dict[str, object], path: Path) -> None:
    """Write a checkpoint so that an interruption never leaves a half-written file."""
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)


def _rng_state(rng: random.Random) -> dict[str, object]:
    """Capture every random state a resumed run needs to continue identically."""
    return {"python": rng.getstate(), "torch": torch.get_rng_state()}


def _restore_rng(rng: random.Random, state: dict[str, object]) -> None:
    """Restore the states captured by :func:`_rng_state`."""
    rng.setstate(state["python"])  # type: ignore[arg-type]
    torch.set_rng_state(state["torch"])  # type: ignore[arg-type]


def tokenizer_for(plan: TrainingPlan) -> CLIPTokenizer:
    """Load the run's tokenizer, learning and saving it on the first call."""
    folder = plan.workdir / "tokenizer"
    if folder.exists():
        return CLIPTokenizer.from_pretrained(folder)
    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(folder)
    return tokenizer


def train_vae(plan: TrainingPlan) -> AutoencoderKL:
    """Train (or resume, or load when finished) the autoencoder; return it frozen."""
    final = plan.workdir / "vae"
    if final.exists():
        return AutoencoderKL.from_pretrained(final).eval().requires_grad_(False)
    checkpoint = plan.workdir / "vae-checkpoint.pt"
    torch.manual_seed(plan.seed)
    rng = random.Random(plan.seed)
    vae = build_vae()
    optimiser = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    start = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        vae.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        _restore_rng(rng, state["rng"])
        start = state["step"]
    excluded = held_out_combinations()
    progress = tqdm(
        range(start, plan.vae_steps), desc="autoencoder", initial=start, total=plan.vae_steps
    )
    for step in progress:
        for group in optimiser.param_groups:
            group["lr"] = (
                1e-3 * min(1.0, (step + 1) / 100) * (0.1 if step > plan.vae_steps * 0.8 else 1.0)
            )
        images = make_batch(rng, excluded, plan.vae_batch).images
        posterior = vae.encode(images).latent_dist
        decoded = vae.decode(posterior.sample()).sample
        reconstruction = functional.l1_loss(decoded, images) + functional.mse_loss(decoded, images)
        loss = reconstruction + 1e-6 * posterior.kl().mean()
        optimiser.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        optimiser.step()
        progress.set_postfix(loss=f"{reconstruction.item():.4f}")
        if (step + 1) % plan.checkpoint_every == 0:
            state = {"model": vae.state_dict(), "optimiser": optimiser.state_dict()}
            _save_atomically({**state, "rng": _rng_state(rng), "step": step + 1}, checkpoint)
    vae.eval().requires_grad_(False)
    vae.register_to_config(scaling_factor=latent_scale(vae, rng))
    vae.save_pretrained(final)
    return vae


@torch.no_grad()
def latent_scale(vae: AutoencoderKL, rng: random.Random) -> float:
    """Return the factor that gives the autoencoder's latents unit variance, as SD does."""
    latents = [
        vae.encode(make_batch(rng, frozenset(), 64, extra_share=0.0).images).latent_dist.sample()
        for _ in range(4)
    ]
    return float(1.0 / torch.cat(latents).std())


class EMA:
    """An exponential moving average of a model's weights, warmed up over the first steps."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Blend ``model``'s current weights into the average."""
        decay = min(self.decay, (1 + step) / (10 + step))
        for average, current in zip(self.model.parameters(), model.parameters(), strict=True):
            average.lerp_(current, 1 - decay)


@dataclass
class Denoiser:
    """What the second phase trains and what it ships: live models and their averages."""

    unet: UNet2DConditionModel
    text_encoder: CLIPTextModel
    ema_unet: EMA
    ema_text: EMA


def min_snr_weights(scheduler_alphas: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """Return Min-SNR-gamma loss weights for epsilon prediction."""
    alpha_bar = scheduler_alphas[timesteps]
    snr = alpha_bar / (1 - alpha_bar)
    return torch.clamp(snr, max=MIN_SNR_GAMMA) / snr


def train_denoiser(
    plan: TrainingPlan,
    vae: AutoencoderKL,
    tokenizer: CLIPTokenizer,
    on_sample: Callable[[Denoiser, int], None] | None = None,
) -> Denoiser:
    """Train (or resume) the UNet and text encoder; return them with their averages."""
    checkpoint = plan.workdir / "denoiser-checkpoint.pt"
    torch.manual_seed(plan.seed + 1)
    rng = random.Random(plan.seed + 1)
    unet, text_encoder = build_unet(), build_text_encoder(tokenizer)
    parameters = list(unet.parameters()) + list(text_encoder.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=plan.learning_rate, weight_decay=1e-2)
    denoiser = Denoiser(
        unet, text_encoder, EMA(unet, plan.ema_decay), EMA(text_encoder, plan.ema_decay)
    )
    start, state = _resume_denoiser(checkpoint, denoiser, optimiser, rng)
    scheduler = training_scheduler()
    excluded = held_out_combinations()
    unet.train()
    text_encoder.train()
    started = time.monotonic() - (state["seconds"] if start else 0.0)
    progress = tqdm(
        range(start, plan.unet_steps), desc="denoiser", initial=start, total=plan.unet_steps
    )
    for step in progress:
        for group in optimiser.param_groups:
            group["lr"] = plan.learning_rate * _lr_factor(step, plan)
        batch = make_batch(rng, excluded, plan.unet_batch)
        captions = ["" if rng.random() < CAPTION_DROPOUT else text for text in batch.captions]
        loss = _denoising_loss(
            denoiser, vae, tokenizer, scheduler, images=batch.images, captions=captions
        )
        optimiser.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimiser.step()
        denoiser.ema_unet.update(unet, step)
        denoiser.ema_text.update(text_encoder, step)
        progress.set_postfix(loss=f"{loss.item():.4f}")
        done = step + 1
        if done % plan.checkpoint_every == 0 or done == plan.unet_steps:
            _save_atomically(
                {
                    "unet": unet.state_dict(),
                    "text_encoder": text_encoder.state_dict(),
                    "ema_unet": denoiser.ema_unet.model.state_dict(),
                    "ema_text": denoiser.ema_text.model.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "rng": _rng_state(rng),
                    "step": done,
                    "seconds": time.monotonic() - started,
                },
                checkpoint,
            )
        if on_sample is not None and done % plan.sample_every == 0:
            on_sample(denoiser, done)
            unet.train()
            text_encoder.train()
    return denoiser


def _resume_denoiser(
    checkpoint: Path, denoiser: Denoiser, optimiser: torch.optim.Optimizer, rng: random.Random
) -> tuple[int, dict[str, Any]]:
    """Load the last checkpoint, if any, into the models, optimiser and RNG.

    Returns the step to continue from (0 for a fresh start) and the checkpoint's contents.
    """
    if not checkpoint.exists():
        return 0, {}
    state: dict[str, Any] = torch.load(checkpoint, weights_only=False)
    denoiser.unet.load_state_dict(state["unet"])
    denoiser.text_encoder.load_state_dict(state["text_encoder"])
    denoiser.ema_unet.model.load_state_dict(state["ema_unet"])
    denoiser.ema_text.model.load_state_dict(state["ema_text"])
    optimiser.load_state_dict(state["optimiser"])
    _restore_rng(rng, state["rng"])
    return int(state["step"]), state


def _denoising_loss(
    denoiser: Denoiser,
    vae: AutoencoderKL,
    tokenizer: CLIPTokenizer,
    scheduler: DDPMScheduler,
    *,
    images: torch.Tensor,
    captions: list[str],
) -> torch.Tensor:
    """Return the Min-SNR-weighted noise-prediction loss of one batch."""
    with torch.no_grad():
        latents = vae.encode(images).latent_dist.sample() * vae.config.scaling_factor
    ids = tokenizer(
        captions,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    context = denoiser.text_encoder(ids)[0]
    noise = torch.randn_like(latents)
    noise += OFFSET_NOISE * torch.randn(latents.shape[0], latents.shape[1], 1, 1)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],))
    noisy = scheduler.add_noise(latents, noise, timesteps)
    predicted = denoiser.unet(noisy, timesteps, encoder_hidden_states=context).sample
    per_image = functional.mse_loss(predicted, noise, reduction="none").mean(dim=(1, 2, 3))
    return (per_image * min_snr_weights(scheduler.alphas_cumprod, timesteps)).mean()


def _lr_factor(step: int, plan: TrainingPlan) -> float:
    """Warm up linearly, hold, then decay linearly to 10 % over the last fifth of training."""
    if step < plan.warmup_steps:
        return (step + 1) / plan.warmup_steps
    decay_start = int(plan.unet_steps * 0.8)
    if step < decay_start:
        return 1.0
    return 1.0 - 0.9 * (step - decay_start) / max(1, plan.unet_steps - decay_start)


def load_denoiser(plan: TrainingPlan, tokenizer: CLIPTokenizer) -> Denoiser:
    """Load the latest checkpoint's weights (for export or evaluation of an unfinished run)."""
    state = torch.load(plan.workdir / "denoiser-checkpoint.pt", weights_only=False)
    unet, text_encoder = build_unet(), build_text_encoder(tokenizer)
    denoiser = Denoiser(
        unet, text_encoder, EMA(unet, plan.ema_decay), EMA(text_encoder, plan.ema_decay)
    )
    denoiser.ema_unet.model.load_state_dict(state["ema_unet"])
    denoiser.ema_text.model.load_state_dict(state["ema_text"])
    return denoiser


def warmup_then_decay(step: int, *, steps: int, warmup_steps: int, learning_rate: float) -> float:
    """Warm up linearly, then decay linearly to 10 % by the last step (the add-on trainers')."""
    if step < warmup_steps:
        return learning_rate * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)
    return learning_rate * (1.0 - 0.9 * progress)
