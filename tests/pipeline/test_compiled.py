"""compile: true on the CPU (inductor's CPU backend): warm in the background, eager meanwhile.

One compile of the tiny model's UNet for one bucket (a 4-image grid at its native size) takes
about a minute on 2 cores, so one engine is compiled for the whole module and shared.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from pipeline.compiled import COMPILE_CACHE, cache_state
from pipeline.config import PipelineConfig
from pipeline.engine import Engine
from pipeline.shape_buckets import Bucket, CompileSettings
from pipeline.warm_up import start_warming

if TYPE_CHECKING:
    import threading
    from pathlib import Path

    from pipeline.compiled import CompiledDenoiser
    from pipeline.loras import LoraCatalog

COMPILE_LIMIT = 900  # seconds: a cold compile on a busy 2-core machine


@pytest.fixture(scope="module")
def warming(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Engine, threading.Thread]:
    """Load the tiny model with compile: true and start compiling its one warm-up bucket."""
    config = PipelineConfig.model_validate(
        {
            "data_dir": str(tmp_path_factory.mktemp("compiled")),
            "model": {
                "path": str(tiny_model_dir),
                "device": "cpu",
                "cpu_threads": 1,
                "compile": True,
                "compiled": {"warm_up": ["1:1x4"], "vae": True},
            },
            "generation": {"steps": 4, "sampler": "Euler", "guidance": 5.0},
        }
    )
    engine = Engine.from_config(config)
    thread = start_warming(engine)
    assert thread is not None
    return engine, thread


@pytest.fixture(scope="module")
def compiled_engine(warming: tuple[Engine, threading.Thread]) -> Engine:
    """Return the engine once its bucket is compiled."""
    engine, thread = warming
    thread.join(COMPILE_LIMIT)
    assert not thread.is_alive()
    return engine


def denoiser(engine: Engine) -> CompiledDenoiser:
    """Return the engine's compiled denoiser."""
    assert engine.compiled is not None
    return engine.compiled


def test_jobs_draw_eager_at_once_while_the_bucket_compiles(
    warming: tuple[Engine, threading.Thread],
) -> None:
    """Finish a grid while the warm-up still compiles, drawn by the eager UNet."""
    engine, thread = warming
    request = engine.parse("a red circle --seed 3")
    with denoiser(engine).chosen(engine.model.txt2img, [request]) as compiled:
        assert not compiled
    assert len(engine.generate(request).images) == 4
    assert thread.is_alive()


def test_compiled_images_equal_eager_ones_within_two_levels(
    compiled_engine: Engine, tiny_engine: Engine
) -> None:
    """Draw the warm bucket through the compiled UNet: the eager engine's pixels, ±2 of 255."""
    request = compiled_engine.parse("a red circle --seed 3")
    compiled = denoiser(compiled_engine)
    bucket = Bucket(request.width, request.height, 4)
    assert compiled.warm == {bucket}
    pipe = compiled_engine.model.txt2img
    with compiled.chosen(pipe, [request]) as used:
        assert used
        assert pipe.vae is compiled.compiled_vae  # the decoder compiled too
    assert pipe.vae is compiled.eager_vae
    ours = compiled_engine.generate(request).images
    theirs = tiny_engine.generate(tiny_engine.parse("a red circle --seed 3")).images
    for mine, eager in zip(ours, theirs, strict=True):
        difference = np.abs(np.asarray(mine, np.int16) - np.asarray(eager, np.int16))
        assert difference.max() <= 2


def test_a_batch_is_padded_to_the_warm_bucket_and_only_its_own_images_return(
    compiled_engine: Engine, tiny_engine: Engine
) -> None:
    """Draw 3 images as the warm 4-image bucket: 3 come back, equal to eager's 3."""
    request = replace(compiled_engine.parse("a blue star --seed 8"), num_images=3)
    assert len(denoiser(compiled_engine).padded([request])) == 2
    ours = compiled_engine.generate(request).images
    theirs = tiny_engine.generate(replace(request, model=tiny_engine.name)).images
    assert len(ours) == 3
    for mine, eager in zip(ours, theirs, strict=True):
        assert np.abs(np.asarray(mine, np.int16) - np.asarray(eager, np.int16)).max() <= 2


def test_a_cold_bucket_runs_eager_without_compiling(compiled_engine: Engine) -> None:
    """Draw a wide image (no warm bucket) without a new compile."""
    frames = torch._dynamo.utils.counters["frames"]["total"]
    request = compiled_engine.parse("a red circle --seed 1 --ar 16:9")
    assert len(compiled_engine.generate(request).images) == 4
    assert torch._dynamo.utils.counters["frames"]["total"] == frames


def test_the_compile_cache_is_kept_under_the_data_directory(compiled_engine: Engine) -> None:
    """Find inductor's compiled graphs in <data_dir>/compile-cache, counted for --check."""
    directory = denoiser(compiled_engine).cache_dir
    assert directory.name == COMPILE_CACHE
    assert any(path.is_file() for path in directory.rglob("*"))
    assert str(directory) in cache_state(directory)


def test_a_fast_job_draws_with_the_eager_unet(compiled_engine: Engine) -> None:
    """Leave the compiled graph out of a --fast job, whose step cache wraps the eager blocks."""
    request = compiled_engine.parse("a red circle --seed 3 --fast")
    with denoiser(compiled_engine).chosen(compiled_engine.model.txt2img, [request]) as used:
        assert not used


def test_a_lora_makes_the_compiled_model_eager_for_good(compiled_engine: Engine) -> None:
    """Stop using the compiled graph once a LoRA has been switched on (it changes the UNet)."""
    compiled = denoiser(compiled_engine)
    request = compiled_engine.parse("a red circle --seed 3")
    switched: list[bool] = []
    compiled.activate_loras(lambda: switched.append(True), any_used=True)
    with compiled.chosen(compiled_engine.model.txt2img, [request]) as used:
        assert not used
    assert switched == [True]


@pytest.fixture
def layout_engine(tiny_config: PipelineConfig, lora_catalog: LoraCatalog) -> Engine:
    """Load the tiny model with fused QKV and channels-last, nothing warm (so all eager)."""
    compiled = CompileSettings.model_validate({"warm_up": (), "fuse_qkv": True})
    update = {"compile": True, "compiled": compiled, "channels_last": True}
    entry = tiny_config.model.model_copy(update=update)
    return Engine.from_config(tiny_config.model_copy(update={"model": entry}), loras=lora_catalog)


def largest_difference(ours: Engine, theirs: Engine, prompt: str) -> int:
    """Draw ``prompt`` on both engines and return the largest pixel difference."""
    mine = ours.generate(ours.parse(prompt)).images
    other = theirs.generate(theirs.parse(prompt)).images
    pairs = zip(mine, other, strict=True)
    return max(
        int(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max()) for a, b in pairs
    )


def test_fused_qkv_and_channels_last_draw_the_plain_models_pixels(
    layout_engine: Engine, lora_engine: Engine
) -> None:
    """Fuse every attention's projections and go NHWC, and still draw within 2 levels."""
    attention = [m for m in denoiser(layout_engine).eager.modules() if hasattr(m, "to_qkv")]
    assert attention
    assert all(module.fused_projections for module in attention)
    assert largest_difference(layout_engine, lora_engine, "a red circle --seed 3") <= 2


def test_a_lora_unfuses_the_projections_before_it_loads(
    layout_engine: Engine, lora_engine: Engine
) -> None:
    """Undo the fusion at the first LoRA, which adapts q, k and v apart, so it takes effect."""
    prompt = "a red circle --seed 3 --lora sd-ink"
    assert largest_difference(layout_engine, lora_engine, prompt) <= 2
    assert not denoiser(layout_engine).fused
