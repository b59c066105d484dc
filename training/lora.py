"""``python -m training.lora``: train the ``rings`` LoRA, which makes easel-tiny draw rings.

The word "ring" is not in the model's vocabulary: the tokenizer splits it into "ri", "n",
"g", fragments that mean nothing to the text encoder. So the LoRA gives no new word a
meaning; it changes what words the model already knows draw. With it, the circle words
("circle", "ball", "disc", "dot", its trigger words) draw a ring, a circle with a hole;
squares, triangles and stars stay as they were. Only the UNet is adapted: the frozen text
encoder already tells the circle words from the others, and a UNet-only file of 0.3 MB
loads into the base model with plain ``load_lora_weights``.

Recipe: the base model's own loss (ε-prediction, Min-SNR-5, offset noise, 10 % dropped
captions) on scenes from :mod:`training.lora_scenes` (three in four of them rings), at the
native 64×64, with a LoRA of rank 8 on every attention projection of the UNet. Deterministic
from ``--seed`` for a given thread count.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
from diffusers.utils import convert_state_dict_to_diffusers
from peft import LoraConfig, get_peft_model_state_dict
from torch.nn import functional
from transformers import CLIPTextModel, CLIPTokenizer

from training.architecture import NATIVE_SIZE, training_scheduler
from training.captions import caption
from training.data import to_tensor
from training.loops import CAPTION_DROPOUT, MIN_SNR_GAMMA, OFFSET_NOISE, warmup_then_decay
from training.lora_scenes import lora_scenes, render_lora_scene

if TYPE_CHECKING:
    from collections.abc import Iterator

    from diffusers import DDPMScheduler

    from training.scenes import Scene

TRIGGER_WORDS = ("circle", "ball", "disc", "dot")
ATTENTION_PROJECTIONS = ("to_q", "to_k", "to_v", "to_out.0")


@dataclass(frozen=True)
class LoraPlan:
    """What to adapt, how long and how hard; the defaults train the shipped LoRA."""

    base: Path = Path("models/easel-tiny")
    seed: int = 0
    steps: int = 2000
    batch: int = 16
    rank: int = 8
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    ring_share: float = 0.75
    report_every: int = 100


@dataclass
class BaseComponents:
    """The frozen parts of the base model and the UNet that carries the adapter."""

    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    unet: UNet2DConditionModel


def load_base(folder: Path) -> BaseComponents:
    """Load the base model's components from its diffusers folder, all frozen."""
    return BaseComponents(
        vae=AutoencoderKL.from_pretrained(folder / "vae").eval().requires_grad_(False),
        text_encoder=CLIPTextModel.from_pretrained(folder / "text_encoder")
        .eval()
        .requires_grad_(False),
        tokenizer=CLIPTokenizer.from_pretrained(folder / "tokenizer"),
        unet=UNet2DConditionModel.from_pretrained(folder / "unet").requires_grad_(False),
    )


def add_lora(unet: UNet2DConditionModel, rank: int) -> list[torch.nn.Parameter]:
    """Attach a LoRA to every attention projection of ``unet``; return its parameters.

    Gaussian initialisation of the down matrices (the up matrices start at zero) so the
    adapted model starts exactly as the base and the seed fixes where it starts from.
    """
    config = LoraConfig(
        r=rank,
        lora_alpha=rank,
        init_lora_weights="gaussian",
        target_modules=list(ATTENTION_PROJECTIONS),
    )
    unet.add_adapter(config)
    return [parameter for parameter in unet.parameters() if parameter.requires_grad]


def batches(rng: random.Random, plan: LoraPlan) -> Iterator[tuple[torch.Tensor, list[str]]]:
    """Yield (images in [-1, 1], captions) of the LoRA's scenes, some captions dropped."""
    scenes = lora_scenes(rng, plan.ring_share)
    while True:
        chosen: list[Scene] = list(islice(scenes, plan.batch))
        images = [np.asarray(render_lora_scene(s, NATIVE_SIZE, NATIVE_SIZE)) for s in chosen]
        captions = [caption(scene, rng) for scene in chosen]
        captions = ["" if rng.random() < CAPTION_DROPOUT else text for text in captions]
        yield to_tensor(images), captions


def denoising_loss(
    model: BaseComponents, scheduler: DDPMScheduler, images: torch.Tensor, captions: list[str]
) -> torch.Tensor:
    """Return the base recipe's Min-SNR-weighted noise-prediction loss of one batch."""
    with torch.no_grad():
        latents = model.vae.encode(images).latent_dist.sample() * model.vae.config.scaling_factor
        ids = model.tokenizer(
            captions,
            padding="max_length",
            max_length=model.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        context = model.text_encoder(ids)[0]
    noise = torch.randn_like(latents)
    noise += OFFSET_NOISE * torch.randn(latents.shape[0], latents.shape[1], 1, 1)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],))
    noisy = scheduler.add_noise(latents, noise, timesteps)
    predicted = model.unet(noisy, timesteps, encoder_hidden_states=context).sample
    per_image = functional.mse_loss(predicted, noise, reduction="none").mean(dim=(1, 2, 3))
    alpha_bar: torch.Tensor = scheduler.alphas_cumprod[timesteps]
    snr = alpha_bar / (1 - alpha_bar)
    return (per_image * torch.clamp(snr, max=MIN_SNR_GAMMA) / snr).mean()


def scheduled_learning_rate(step: int, plan: LoraPlan) -> float:
    """Return the plan's learning rate at ``step``: warm up, then decay to 10 %."""
    return warmup_then_decay(
        step, steps=plan.steps, warmup_steps=plan.warmup_steps, learning_rate=plan.learning_rate
    )


def train_lora(plan: LoraPlan) -> BaseComponents:
    """Train the LoRA on the base model, printing progress; return the adapted model."""
    torch.manual_seed(plan.seed)
    rng = random.Random(plan.seed)
    model = load_base(plan.base)
    parameters = add_lora(model.unet, plan.rank)
    optimiser = torch.optim.AdamW(parameters, lr=plan.learning_rate, weight_decay=1e-2)
    scheduler = training_scheduler()
    model.unet.train()
    started, running = time.monotonic(), 0.0
    for step, (images, captions) in enumerate(islice(batches(rng, plan), plan.steps)):
        for group in optimiser.param_groups:
            group["lr"] = scheduled_learning_rate(step, plan)
        loss = denoising_loss(model, scheduler, images, captions)
        optimiser.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimiser.step()
        running += loss.item()
        done = step + 1
        if done % plan.report_every == 0 or done == plan.steps:
            count = (done - 1) % plan.report_every + 1
            seconds = time.monotonic() - started
            print(f"step {done}/{plan.steps}  loss {running / count:.4f}  {seconds:.0f} s")
            running = 0.0
    model.unet.eval()
    return model


def save_lora(unet: UNet2DConditionModel, output: Path) -> None:
    """Write the UNet's LoRA in the diffusers layout ``load_lora_weights`` reads."""
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    output.parent.mkdir(parents=True, exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(
        output.parent, unet_lora_layers=layers, weight_name=output.name, safe_serialization=True
    )


def parse_arguments() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m training.lora", description=__doc__)
    parser.add_argument("--output", type=Path, required=True, help="the .safetensors file to write")
    parser.add_argument("--base", type=Path, default=LoraPlan.base, help="base model folder")
    parser.add_argument("--steps", type=int, default=LoraPlan.steps)
    parser.add_argument("--batch", type=int, default=LoraPlan.batch)
    parser.add_argument("--rank", type=int, default=LoraPlan.rank)
    parser.add_argument("--learning-rate", type=float, default=LoraPlan.learning_rate)
    parser.add_argument("--seed", type=int, default=LoraPlan.seed)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    return parser.parse_args()


def main() -> None:
    """Train the LoRA and write it, with its trigger words next to it."""
    arguments = parse_arguments()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    plan = LoraPlan(
        base=arguments.base,
        seed=arguments.seed,
        steps=arguments.steps,
        batch=arguments.batch,
        rank=arguments.rank,
        learning_rate=arguments.learning_rate,
    )
    started = time.monotonic()
    model = train_lora(plan)
    save_lora(model.unet, arguments.output)
    arguments.output.with_suffix(".txt").write_text(", ".join(TRIGGER_WORDS) + "\n")
    seconds = time.monotonic() - started
    print(f"Saved {arguments.output} after {seconds:.0f} s.")


if __name__ == "__main__":
    main()
