"""Measure the layout switches of a compiled model side by side on the eager denoiser.

``compiled.fuse_qkv`` (one matmul for each attention's q, k and v) changes the shared module,
so eager draws get it too; ``model.channels_last`` stores the weights NHWC. Here both are
switched on and off round by round on one engine, so every variant sees the same machine;
``benchmarks/compile.py --no-fuse-qkv`` / ``--channels-last`` time them compiled::

    python benchmarks/layouts.py [--config config.yaml] [--steps 25] [--rounds 3]
    python benchmarks/layouts.py --arch sd15     # SD 1.5 512², on a GPU
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.compile import timed_model, timed_model_parser
from benchmarks.fast import draw
from pipeline.engine import Engine

VARIANTS = {
    "plain": (False, False),
    "fused QKV": (True, False),
    "channels-last": (False, True),
    "both": (True, True),
}


def set_layout(denoiser: Any, was_fused: bool, *, fused: bool, channels_last: bool) -> None:
    """Switch the denoiser's QKV fusion (fusing twice would lose the unfused processors)."""
    if fused and not was_fused:
        denoiser.fuse_qkv_projections()
    elif was_fused and not fused:
        denoiser.unfuse_qkv_projections()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    denoiser.to(memory_format=layout)


def main() -> None:
    """Time each variant round by round and print it/s, ratios and pixel differences."""
    parser = timed_model_parser(__doc__)
    arguments = parser.parse_args()
    engine = Engine.from_config(timed_model(arguments))
    denoiser = engine.model.family.denoiser(engine.model.txt2img)
    prompt = f"a lighthouse at dusk --seed 5 --steps {arguments.steps}"
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    images: dict[str, list[np.ndarray]] = {}
    was_fused = False
    for round_index in range(arguments.rounds + 1):  # the first round warms each variant
        for name, (fused, channels_last) in VARIANTS.items():
            set_layout(denoiser, was_fused, fused=fused, channels_last=channels_last)
            was_fused = fused
            elapsed, images[name] = draw(engine, prompt, arguments.images)
            if round_index:
                seconds[name].append(elapsed)
    plain = statistics.median(seconds["plain"])
    for name in VARIANTS:
        median = statistics.median(seconds[name])
        difference = max(
            float(np.abs(a - b).max()) for a, b in zip(images[name], images["plain"], strict=True)
        )
        print(
            f"{name:>13}: {arguments.steps / median:.2f} it/s, {plain / median:.2f}x plain, "
            f"largest pixel difference {difference:.0f}"
        )


if __name__ == "__main__":
    main()
