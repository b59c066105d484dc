"""``python -m training.evaluate``: how well a model draws what it is asked.

Draws every held-out colour × shape × background combination and as many seen ones, four
images per prompt, through Easel's engine at its configured defaults and through plain
diffusers at its defaults (50 steps, guidance 7.5), and prints accuracy tables: shape colour,
background colour, both, and the shape itself, seen and held-out apart.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

from pipeline.config import PipelineConfig
from pipeline.config_file import load_config
from pipeline.engine import Engine
from training.captions import canonical_caption
from training.measure import measure_scene
from training.scenes import Scene, all_combinations, held_out_combinations

Drawer = Callable[[str, int], list[Image.Image]]


@dataclass
class Tally:
    """Counts of correct readings for one group of prompts."""

    images: int = 0
    shape_colour: int = 0
    background: int = 0
    both: int = 0
    shape: int = 0
    misses: dict[str, int] = field(default_factory=dict)

    def add(self, scene: Scene, image: Image.Image) -> None:
        """Read ``image`` and count what it got right about ``scene``."""
        reading = measure_scene(image)
        self.images += 1
        colour_right = reading.shape_colour == scene.colour
        background_right = reading.background_colour == scene.background
        self.shape_colour += colour_right
        self.background += background_right
        self.both += colour_right and background_right
        self.shape += reading.shape == scene.shape
        if not colour_right:
            key = f"{scene.colour}->{reading.shape_colour}"
            self.misses[key] = self.misses.get(key, 0) + 1

    def row(self, name: str) -> str:
        """Return a Markdown table row of percentages."""

        def share(count: int) -> str:
            return f"{100 * count / max(self.images, 1):.0f} %"

        return (
            f"| {name} | {self.images} | {share(self.shape_colour)} | {share(self.background)} "
            f"| {share(self.both)} | {share(self.shape)} |"
        )


def prompt_sets(seen_count: int) -> dict[str, list[Scene]]:
    """Return the held-out scenes and a fixed sample of seen ones."""
    held_out = sorted(held_out_combinations())
    seen = [c for c in all_combinations() if c not in set(held_out)]
    seen = random.Random(99).sample(seen, seen_count)
    return {
        "held-out": [Scene(*combination) for combination in held_out],
        "seen": [Scene(*combination) for combination in seen],
    }


def engine_drawer(model: Path, config_path: Path, overrides: list[str]) -> Drawer:
    """Draw through Easel's engine with the config file's generation defaults."""
    config = load_config(config_path, PipelineConfig, environ={})
    entry = config.default_model.model_copy(update={"path": str(model.resolve()), "device": "cpu"})
    engine = Engine.from_config(config, entry)
    suffix = " ".join(overrides)

    def draw(prompt: str, seed: int) -> list[Image.Image]:
        return engine.generate(engine.parse(f"{prompt} --seed {seed} {suffix}")).images

    return draw


def diffusers_drawer(model: Path) -> Drawer:
    """Draw through a plain diffusers pipeline at its own defaults."""
    pipeline = StableDiffusionPipeline.from_pretrained(model)
    pipeline.set_progress_bar_config(disable=True)

    def draw(prompt: str, seed: int) -> list[Image.Image]:
        generator = torch.Generator().manual_seed(seed)
        images: list[Image.Image] = pipeline([prompt] * 4, generator=generator).images
        return images

    return draw


def evaluate(draw: Drawer, scenes: dict[str, list[Scene]], seeds: int) -> dict[str, Tally]:
    """Draw every scene's canonical caption at each seed and tally the readings."""
    tallies = {}
    for group, group_scenes in scenes.items():
        tally = Tally()
        for scene in group_scenes:
            for seed in range(seeds):
                for image in draw(canonical_caption(scene), seed):
                    tally.add(scene, image)
        tallies[group] = tally
    return tallies


def report(title: str, tallies: dict[str, Tally], seconds: float) -> str:
    """Format one evaluation as a Markdown table."""
    lines = [
        f"### {title} ({seconds:.0f} s)",
        "",
        "| prompts | images | shape colour | background | both colours | shape |",
        "|---|---|---|---|---|---|",
    ]
    lines += [tally.row(group) for group, tally in tallies.items()]
    misses = {k: v for t in tallies.values() for k, v in t.misses.items()}
    worst = sorted(misses.items(), key=lambda item: -item[1])[:6]
    lines += ["", "Most frequent shape-colour errors: " + ", ".join(f"{k} ×{v}" for k, v in worst)]
    return "\n".join(lines)


def main() -> None:
    """Evaluate the model at the engine's defaults and at plain diffusers defaults."""
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("models/easel-tiny"))
    parser.add_argument(
        "--config", type=Path, default=Path("config.yaml"), help="for the engine's defaults"
    )
    parser.add_argument("--seeds", type=int, default=1, help="seeds per prompt (4 images each)")
    parser.add_argument("--seen", type=int, default=24, help="seen combinations to sample")
    parser.add_argument("--only", choices=("engine", "diffusers"), default=None)
    parser.add_argument(
        "--engine-args", default="", help='extra prompt parameters, e.g. "--steps 20"'
    )
    arguments = parser.parse_args()
    scenes = prompt_sets(arguments.seen)
    drawers: dict[str, Callable[[], Drawer]] = {
        "engine": lambda: engine_drawer(
            arguments.model, arguments.config, arguments.engine_args.split()
        ),
        "diffusers": lambda: diffusers_drawer(arguments.model),
    }
    titles = {
        "engine": f"Easel engine, {arguments.config} defaults {arguments.engine_args}".strip(),
        "diffusers": "plain diffusers defaults (50 steps, guidance 7.5)",
    }
    for name, make in drawers.items():
        if arguments.only not in (None, name):
            continue
        started = time.monotonic()
        tallies = evaluate(make(), scenes, arguments.seeds)
        print(report(titles[name], tallies, time.monotonic() - started), flush=True)
        print()


if __name__ == "__main__":
    main()
