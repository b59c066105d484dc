"""Measure --fast: seconds per grid with and without the step cache, and what it costs.

Full and fast draws of one grid alternate round by round on one engine, so both see the same
machine. The cost is how far the fast images are from the full ones (mean and largest pixel
difference, PSNR); for scale, the mean difference between two seeds' images is printed too::

    python benchmarks/fast.py [--config config.yaml] [--steps 25] [--rounds 3]
    python benchmarks/fast.py --arch sd15                          # SD 1.5 512², on a GPU
    python benchmarks/fast.py --arch flux --steps 28 --images 1    # FLUX, a dev-like 28 steps

Random full-size models (``--arch``) time the speed only: their images mean nothing, so the
quality cost is the built-in model's.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.compile import timed_model, timed_model_parser
from pipeline.engine import Engine


def draw(engine: Engine, prompt: str, images: int) -> tuple[float, list[np.ndarray]]:
    """Draw ``prompt`` as a grid of ``images``; return the seconds and the pixels."""
    request = replace(engine.parse(prompt), num_images=images)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = engine.generate(request)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    pixels = [np.asarray(image, np.float64) for image in result.images]
    return time.perf_counter() - started, pixels


def psnr(ours: list[np.ndarray], theirs: list[np.ndarray]) -> float:
    """Return the peak signal-to-noise ratio of ``ours`` against ``theirs``, in dB."""
    error = statistics.fmean(
        float(((a - b) ** 2).mean()) for a, b in zip(ours, theirs, strict=True)
    )
    return math.inf if error == 0 else 10 * math.log10(255**2 / error)


def main() -> None:
    """Alternate full and fast grids, then print their speed and the fast images' cost."""
    parser = timed_model_parser(__doc__)
    parser.add_argument("--sampler", default=None, help="(else the model's default)")
    arguments = parser.parse_args()
    engine = Engine.from_config(timed_model(arguments))
    prompt = f"a lighthouse at dusk --seed 5 --steps {arguments.steps}"
    if arguments.sampler:
        prompt += f" --sampler {arguments.sampler}"
    print(
        f"{engine.name}: fast_every {engine.settings.fast_every}, "
        f"fast_threshold {engine.settings.fast_threshold:g}, "
        f"sampler {engine.parse(prompt).sampler}",
        flush=True,
    )
    modes = {"full": prompt, "fast": f"{prompt} --fast"}
    for text in modes.values():  # each path's first call sets up its buffers
        draw(engine, text, arguments.images)
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    images: dict[str, list[np.ndarray]] = {}
    for _ in range(arguments.rounds):
        for mode, text in modes.items():
            elapsed, images[mode] = draw(engine, text, arguments.images)
            seconds[mode].append(elapsed)
    for mode in modes:
        median = statistics.median(seconds[mode])
        print(
            f"{mode}: {arguments.steps / median:.2f} it/s, {median:.3f} s per grid of "
            f"{arguments.images}"
        )
    ratio = statistics.median(seconds["full"]) / statistics.median(seconds["fast"])
    print(f"fast / full speed: {ratio:.2f}x")
    full, fast = images["full"], images["fast"]
    other = draw(engine, prompt.replace("--seed 5", "--seed 6"), arguments.images)[1]
    mean = statistics.fmean(float(np.abs(a - b).mean()) for a, b in zip(fast, full, strict=True))
    largest = max(float(np.abs(a - b).max()) for a, b in zip(fast, full, strict=True))
    seeds = statistics.fmean(float(np.abs(a - b).mean()) for a, b in zip(other, full, strict=True))
    print(
        f"fast against full: mean difference {mean:.2f} of 255 (largest {largest:.0f}), "
        f"PSNR {psnr(fast, full):.1f} dB; another seed differs by {seeds:.2f} on average"
    )


if __name__ == "__main__":
    main()
