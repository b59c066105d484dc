"""The ``rings`` LoRA's ring reader and its trainer.

What the shipped file makes the model draw is tested through the engine, as members use it,
in ``tests/pipeline/test_builtin_lora.py``.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from diffusers import StableDiffusionPipeline
from PIL import Image

from training import lora
from training.lora_measure import shows_ring
from training.lora_scenes import render_ring
from training.scenes import SHAPES, random_scene, render

ROOT = Path(__file__).parents[2]
BASE = ROOT / "models" / "easel-tiny"


@pytest.fixture(scope="module")
def pipe() -> StableDiffusionPipeline:
    """Load the shipped base model with plain diffusers, on the CPU."""
    pipeline = StableDiffusionPipeline.from_pretrained(BASE, local_files_only=True)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def test_rings_are_told_from_the_base_shapes() -> None:
    """Read every rendered ring as a ring and no rendered base shape or plain image as one."""
    rng = random.Random(5)
    scenes = [random_scene(rng, frozenset()) for _ in range(40)]
    assert all(shows_ring(render_ring(scene)) for scene in scenes)
    assert {scene.shape for scene in scenes} == set(SHAPES)
    assert not any(shows_ring(render(scene)) for scene in scenes)
    assert not shows_ring(Image.new("RGB", (64, 64), (245, 245, 245)))


def test_a_short_run_writes_a_lora_that_diffusers_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pipe: StableDiffusionPipeline
) -> None:
    """Train a few steps from the command line and load the file and its trigger words."""
    output = tmp_path / "short.safetensors"
    arguments = ["--output", str(output), "--steps", "2", "--batch", "2", "--base", str(BASE)]
    monkeypatch.setattr(sys, "argv", ["training.lora", *arguments])
    lora.main()
    assert output.with_suffix(".txt").read_text().strip() == ", ".join(lora.TRIGGER_WORDS)
    pipe.load_lora_weights(tmp_path, weight_name=output.name, adapter_name="short")
    try:
        assert "short" in pipe.get_active_adapters()
    finally:
        pipe.unload_lora_weights()
