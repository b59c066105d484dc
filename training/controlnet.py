"""``python -m training.controlnet``: train the built-in model's Canny ControlNet.

With it, an outline places the shape: a sketch of a circle in the top left corner makes the
model draw its circle there, which the base model cannot be told in words (it never learnt
positions). The conditioning image is the bot's own preprocessing of the rendered scene,
``pipeline.control_images.control_image(image, "canny", (64, 64))``, and is passed as
diffusers' ``StableDiffusionControlNetPipeline`` passes it (its ``control_image_processor``):
RGB in [0, 1], not normalised to [-1, 1]. So what the ControlNet learns from is exactly what
it is given at inference.

Recipe: ``ControlNetModel.from_unet`` copies the frozen UNet's encoder; its conditioning
embedding downsamples as often as the autoencoder (4×, two stride-2 convolutions), so the
control's features meet the 16×16 latents. Its zeroed output convolutions make it start
as the base model. It learns with the base model's own loss (ε-prediction, Min-SNR-5,
offset noise), on scenes of :mod:`training.controlnet_scenes` (one shape centred in one of
nine cells, every nine scenes covering all nine), with half of the captions dropped so the
control alone learns to place the shape. The UNet, autoencoder and text encoder stay frozen.
Deterministic from ``--seed`` for a given thread count.
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
from diffusers import ControlNetModel
from torch.nn import functional

from pipeline.control_images import control_image
from training.architecture import NATIVE_SIZE, training_scheduler
from training.captions import caption
from training.controlnet_scenes import placed_scenes, render_placed
from training.data import to_tensor
from training.loops import OFFSET_NOISE, min_snr_weights, warmup_then_decay
from training.lora import BaseComponents, load_base
from training.scenes import held_out_combinations

if TYPE_CHECKING:
    from collections.abc import Iterator

    from diffusers import DDPMScheduler

    from pipeline.control_images import ControlMode

CONTROL_MODE: ControlMode = "canny"
OUTPUT = Path("models/controlnets/easel-tiny-canny")


@dataclass(frozen=True)
class ControlNetPlan:
    """How long and how hard to train; the defaults train the shipped ControlNet."""

    base: Path = Path("models/easel-tiny")
    seed: int = 0
    steps: int = 2000
    batch: int = 12
    learning_rate: float = 5e-4
    warmup_steps: int = 100
    caption_dropout: float = 0.5
    report_every: int = 100
    save_every: int = 250  # write the weights so far, so an interrupted run leaves a model


@dataclass(frozen=True)
class ControlBatch:
    """Images in [-1, 1] and their controls in [0, 1] (both N, 3, H, W), and captions."""

    images: torch.Tensor
    controls: torch.Tensor
    captions: list[str]


def conditioning_channels(vae_scale_factor: int) -> tuple[int, ...]:
    """Return conditioning-embedding widths that downsample by ``vae_scale_factor``.

    diffusers' embedding halves the size once between each two widths, so it needs one
    width more than the number of halvings.
    """
    halvings = vae_scale_factor.bit_length() - 1
    if vae_scale_factor != 2**halvings:
        raise ValueError(f"The VAE's scale factor {vae_scale_factor} is not a power of two.")
    return tuple(16 * 2 ** min(index, 2) for index in range(halvings + 1))


def build_controlnet(model: BaseComponents) -> ControlNetModel:
    """Return a fresh ControlNet copied from the base UNet, matched to its autoencoder."""
    scale_factor = 2 ** (len(model.vae.config.block_out_channels) - 1)
    return ControlNetModel.from_unet(
        model.unet, conditioning_embedding_out_channels=conditioning_channels(scale_factor)
    )


def control_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """Stack HWC uint8 control images into an NCHW float tensor in [0, 1], as diffusers does."""
    array = np.stack(images).astype(np.float32) / 255.0
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def batches(rng: random.Random, plan: ControlNetPlan) -> Iterator[ControlBatch]:
    """Yield batches of placed scenes with their Canny controls, some captions dropped."""
    scenes = placed_scenes(rng, held_out_combinations())
    size = (NATIVE_SIZE, NATIVE_SIZE)
    while True:
        chosen = list(islice(scenes, plan.batch))
        images = [render_placed(placed, *size) for placed in chosen]
        controls = [np.asarray(control_image(image, CONTROL_MODE, size)) for image in images]
        captions = [caption(placed.scene, rng) for placed in chosen]
        captions = ["" if rng.random() < plan.caption_dropout else text for text in captions]
        yield ControlBatch(
            to_tensor([np.asarray(image) for image in images]), control_tensor(controls), captions
        )


def controlled_loss(
    model: BaseComponents,
    controlnet: ControlNetModel,
    scheduler: DDPMScheduler,
    batch: ControlBatch,
) -> torch.Tensor:
    """Return the base recipe's Min-SNR-weighted noise-prediction loss, under control."""
    with torch.no_grad():
        posterior = model.vae.encode(batch.images).latent_dist
        latents = posterior.sample() * model.vae.config.scaling_factor
        ids = model.tokenizer(
            batch.captions,
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
    down, middle = controlnet(
        noisy,
        timesteps,
        encoder_hidden_states=context,
        controlnet_cond=batch.controls,
        return_dict=False,
    )
    predicted = model.unet(
        noisy,
        timesteps,
        encoder_hidden_states=context,
        down_block_additional_residuals=down,
        mid_block_additional_residual=middle,
    ).sample
    per_image = functional.mse_loss(predicted, noise, reduction="none").mean(dim=(1, 2, 3))
    return (per_image * min_snr_weights(scheduler.alphas_cumprod, timesteps)).mean()


def scheduled_learning_rate(step: int, plan: ControlNetPlan) -> float:
    """Return the plan's learning rate at ``step``: warm up, then decay to 10 %."""
    return warmup_then_decay(
        step, steps=plan.steps, warmup_steps=plan.warmup_steps, learning_rate=plan.learning_rate
    )


def train_controlnet(
    plan: ControlNetPlan, output: Path | None = None
) -> tuple[BaseComponents, ControlNetModel]:
    """Train a ControlNet on the frozen base model, printing progress; return both.

    With ``output``, the weights so far are written there every ``plan.save_every`` steps.
    """
    torch.manual_seed(plan.seed)
    rng = random.Random(plan.seed)
    model = load_base(plan.base)
    model.unet.eval()
    controlnet = build_controlnet(model).train()
    parameters = list(controlnet.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=plan.learning_rate, weight_decay=1e-2)
    scheduler = training_scheduler()
    started, running = time.monotonic(), 0.0
    for step, batch in enumerate(islice(batches(rng, plan), plan.steps)):
        for group in optimiser.param_groups:
            group["lr"] = scheduled_learning_rate(step, plan)
        loss = controlled_loss(model, controlnet, scheduler, batch)
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
        if output is not None and done % plan.save_every == 0:
            controlnet.save_pretrained(output, safe_serialization=True)
    return model, controlnet.eval()


def is_zero_initialised(controlnet: ControlNetModel) -> bool:
    """Tell whether every output convolution of ``controlnet`` is still all zeros."""
    outputs: list[torch.nn.Module] = [
        *controlnet.controlnet_down_blocks,
        controlnet.controlnet_mid_block,
        controlnet.controlnet_cond_embedding.conv_out,
    ]
    return all(not parameter.any() for block in outputs for parameter in block.parameters())


def parse_arguments() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m training.controlnet", description=__doc__)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the folder to write")
    parser.add_argument("--base", type=Path, default=ControlNetPlan.base, help="base model")
    parser.add_argument("--steps", type=int, default=ControlNetPlan.steps)
    parser.add_argument("--batch", type=int, default=ControlNetPlan.batch)
    parser.add_argument("--learning-rate", type=float, default=ControlNetPlan.learning_rate)
    parser.add_argument("--caption-dropout", type=float, default=ControlNetPlan.caption_dropout)
    parser.add_argument("--seed", type=int, default=ControlNetPlan.seed)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    return parser.parse_args()


def main() -> None:
    """Train the ControlNet and write it as a diffusers folder."""
    arguments = parse_arguments()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    plan = ControlNetPlan(
        base=arguments.base,
        seed=arguments.seed,
        steps=arguments.steps,
        batch=arguments.batch,
        learning_rate=arguments.learning_rate,
        caption_dropout=arguments.caption_dropout,
    )
    started = time.monotonic()
    _, controlnet = train_controlnet(plan, arguments.output)
    controlnet.save_pretrained(arguments.output, safe_serialization=True)
    seconds = time.monotonic() - started
    print(f"Saved {arguments.output} after {seconds:.0f} s.")


if __name__ == "__main__":
    main()
