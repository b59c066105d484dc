"""``python -m training.controlnet_measure``: measure whether a sketch places the shape.

The reading: :func:`training.measure.measure_scene` finds the background and whether a shape
is drawn; the shape is every pixel clearly unlike the background's palette colour (the same
rule); its cell in a 3×3 grid is the cell of its centroid (:func:`shape_cell`).

The evaluation draws held-out placed scenes (a seed the training never used, every cell
equally often) through diffusers' real ``StableDiffusionControlNetPipeline``, built from the
base model's own modules plus the ControlNet, at the engine's defaults (Euler a, 25 steps,
guidance 7), with a prompt that names the colours and the shape but never the position.
It reports the share of images whose shape lies in the sketched cell: with the Canny control
of the rendered scene (what the ControlNet was trained on), with the ``scribble``
preprocessing of a hand-like sketch (a black outline on white paper), and without any
ControlNet (the base model, same prompts and seeds: where it puts shapes by itself).
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from diffusers import (
    ControlNetModel,
    EulerDiscreteScheduler,
    StableDiffusionControlNetPipeline,
    StableDiffusionPipeline,
)

from pipeline.control_images import control_image
from pipeline.samplers import build_scheduler
from training.captions import canonical_caption
from training.controlnet import OUTPUT
from training.controlnet_scenes import CELLS, cell_of, placed_scene, render_placed, sketch
from training.lora import load_base
from training.measure import measure_scene
from training.scenes import PALETTE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PIL import Image

    from training.controlnet_scenes import PlacedScene

SketchKind = Literal["canny", "scribble"]
HELD_OUT_SEED = 20_261_201  # the scenes' seed: training draws its scenes from --seed (0)
_DIFFERENT = 50.0  # RGB distance from the background that marks a shape's pixel, as measure's


@dataclass(frozen=True)
class DrawSettings:
    """How the evaluation draws: the engine's defaults unless a caller asks otherwise."""

    sampler: str = "Euler a"
    steps: int = 25
    guidance: float = 7.0
    conditioning_scale: float = 1.0
    seed: int = 0  # image i is drawn from seed + i, with and without the ControlNet
    chunk: int = 16  # images per pipeline call


def shape_cell(image: Image.Image) -> int | None:
    """Return the 3×3 cell (row by row from the top left) of the drawn shape, or None."""
    reading = measure_scene(image)
    if reading.shape is None:
        return None
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    background = np.array(PALETTE[reading.background_colour], dtype=np.float32)
    rows, columns = np.nonzero(np.linalg.norm(pixels - background, axis=2) > _DIFFERENT)
    height, width, _ = pixels.shape
    return cell_of((columns.mean() + 0.5) / width, (rows.mean() + 0.5) / height)


def held_out_scenes(per_cell: int, seed: int = HELD_OUT_SEED) -> list[PlacedScene]:
    """Return ``per_cell`` placed scenes in each cell, from a seed training never uses."""
    rng = random.Random(seed)
    return [placed_scene(rng, cell, frozenset()) for _ in range(per_cell) for cell in range(9)]


def controls_for(scenes: Sequence[PlacedScene], kind: SketchKind) -> list[Image.Image]:
    """Return each scene's control image at 64×64, preprocessed as the bot would."""
    size = (64, 64)
    if kind == "canny":
        return [control_image(render_placed(scene), "canny", size) for scene in scenes]
    return [control_image(sketch(scene), "scribble", size) for scene in scenes]


def control_pipeline(base: Path, controlnet: ControlNetModel) -> StableDiffusionControlNetPipeline:
    """Build diffusers' ControlNet pipeline from the base model's modules and ``controlnet``."""
    model = load_base(base)
    pipe = StableDiffusionControlNetPipeline(
        vae=model.vae,
        text_encoder=model.text_encoder,
        tokenizer=model.tokenizer,
        unet=model.unet.eval(),
        controlnet=controlnet.eval(),
        scheduler=EulerDiscreteScheduler.from_pretrained(base / "scheduler"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def draw(
    pipe: Any,
    scenes: Sequence[PlacedScene],
    settings: DrawSettings,
    controls: Sequence[Image.Image] | None = None,
) -> list[Image.Image]:
    """Draw each scene's caption (no position); with ``controls`` under the ControlNet."""
    pipe.scheduler = build_scheduler(settings.sampler, pipe.scheduler.config)
    images: list[Image.Image] = []
    for start in range(0, len(scenes), settings.chunk):
        chosen = scenes[start : start + settings.chunk]
        options: dict[str, Any] = {
            "prompt": [canonical_caption(scene.scene) for scene in chosen],
            "num_inference_steps": settings.steps,
            "guidance_scale": settings.guidance,
            "generator": [
                torch.Generator().manual_seed(settings.seed + start + index)
                for index in range(len(chosen))
            ],
            "height": 64,
            "width": 64,
        }
        if controls is not None:
            options["image"] = list(controls[start : start + settings.chunk])
            options["controlnet_conditioning_scale"] = settings.conditioning_scale
        with torch.no_grad():
            images.extend(pipe(**options).images)
    return images


def share_in_cell(images: Sequence[Image.Image], scenes: Sequence[PlacedScene]) -> float:
    """Return the share of ``images`` whose shape lies in its scene's cell."""
    hits = [shape_cell(image) == scene.cell for image, scene in zip(images, scenes, strict=True)]
    return sum(hits) / max(len(hits), 1)


def baseline_pipeline(pipe: StableDiffusionControlNetPipeline) -> StableDiffusionPipeline:
    """Return the plain text-to-image pipeline of the same modules, without the ControlNet."""
    plain = StableDiffusionPipeline(
        vae=pipe.vae,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        unet=pipe.unet,
        scheduler=pipe.scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    plain.set_progress_bar_config(disable=True)
    return plain


def parse_arguments() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m training.controlnet_measure", description=__doc__
    )
    parser.add_argument("--controlnet", type=Path, default=OUTPUT, help="ControlNet folder")
    parser.add_argument("--base", type=Path, default=Path("models/easel-tiny"))
    parser.add_argument("--per-cell", type=int, default=16, help="held-out scenes per cell")
    parser.add_argument("--steps", type=int, default=DrawSettings.steps)
    parser.add_argument("--guidance", type=float, default=DrawSettings.guidance)
    parser.add_argument("--scale", type=float, default=DrawSettings.conditioning_scale)
    parser.add_argument("--seed", type=int, default=DrawSettings.seed, help="first image seed")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    return parser.parse_args()


def main() -> None:
    """Print the shares of held-out images whose shape lands in the sketched cell."""
    arguments = parse_arguments()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    started = time.monotonic()
    controlnet = ControlNetModel.from_pretrained(arguments.controlnet, local_files_only=True)
    pipe = control_pipeline(arguments.base, controlnet)
    settings = DrawSettings(
        steps=arguments.steps,
        guidance=arguments.guidance,
        conditioning_scale=arguments.scale,
        seed=arguments.seed,
    )
    scenes = held_out_scenes(arguments.per_cell)
    print(f"{len(scenes)} held-out scenes, {arguments.per_cell} per cell of {len(CELLS)}")
    rows = {
        "canny control": draw(pipe, scenes, settings, controls_for(scenes, "canny")),
        "scribble sketch": draw(pipe, scenes, settings, controls_for(scenes, "scribble")),
        "no ControlNet": draw(baseline_pipeline(pipe), scenes, settings),
    }
    for name, images in rows.items():
        share = share_in_cell(images, scenes)
        print(f"{name:16s} in the sketched cell: {share:6.1%} of {len(images)}")
    print(f"{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
