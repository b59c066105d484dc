"""``python -m training``: rebuild the built-in model from nothing.

Resumable: run the same command again after an interruption and it continues from the last
checkpoint in ``--workdir``. ``--export-only`` writes the model from the latest checkpoint.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from training.export import assemble, sample_sheet, save_model
from training.loops import (
    Denoiser,
    TrainingPlan,
    load_denoiser,
    tokenizer_for,
    train_denoiser,
    train_vae,
)


def parse_arguments() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument(
        "--output", type=Path, default=Path("models/easel-tiny"), help="model folder to write"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("data/train-default"),
        help="checkpoints and sample sheets",
    )
    parser.add_argument(
        "--steps", type=int, default=TrainingPlan.unet_steps, help="denoiser training steps"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    parser.add_argument(
        "--export-only", action="store_true", help="export the latest checkpoint and stop"
    )
    return parser.parse_args()


def main() -> None:
    """Train both phases, saving sample sheets on the way, then export the model."""
    arguments = parse_arguments()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    plan = TrainingPlan(workdir=arguments.workdir, seed=arguments.seed, unet_steps=arguments.steps)
    plan.workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tokenizer = tokenizer_for(plan)
    vae = train_vae(plan)

    def on_sample(denoiser: Denoiser, step: int) -> None:
        sample_sheet(
            assemble(vae, tokenizer, denoiser), plan.workdir / "samples" / f"step-{step:05d}.png"
        )

    if arguments.export_only:
        denoiser = load_denoiser(plan, tokenizer)
    else:
        denoiser = train_denoiser(plan, vae, tokenizer, on_sample=on_sample)
    save_model(assemble(vae, tokenizer, denoiser), arguments.output)
    minutes = (time.monotonic() - started) / 60
    print(f"Saved {arguments.output} after {minutes:.1f} minutes of this run.")


if __name__ == "__main__":
    main()
