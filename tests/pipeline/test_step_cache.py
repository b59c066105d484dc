"""--fast: DeepCache on UNets, the first-block cache on FLUX, and the model left as it was."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PIL import Image

from pipeline.batching import check_batch
from pipeline.step_cache import deep_blocks, forward_wrapped

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from pipeline.engine import Engine


def pixels(engine: Engine, prompt: str) -> np.ndarray:
    """Draw one image of ``prompt`` and return its pixels."""
    request = replace(engine.parse(prompt), num_images=1)
    return np.asarray(engine.generate(request).images[0], np.float32)


def counted(calls: list[int]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a forward so each real computation is counted in ``calls``."""

    def wrap(forward: Callable[..., Any]) -> Callable[..., Any]:
        def counting(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return forward(*args, **kwargs)

        return counting

    return wrap


def middle_computations(engine: Engine, prompt: str) -> int:
    """Draw ``prompt`` and return how often the UNet's middle block really computed."""
    calls: list[int] = []
    with forward_wrapped(engine.model.txt2img.unet.mid_block, counted(calls)):
        pixels(engine, prompt)
    return len(calls)


def test_fast_computes_the_deep_blocks_every_third_step_only(tiny_engine: Engine) -> None:
    """Run the middle block at steps 1-3, then 4, 7 and 10 of 10 with --fast; all without."""
    settings = tiny_engine.settings
    assert (settings.fast_full_steps, settings.fast_every) == (3, 3)
    assert middle_computations(tiny_engine, "a red circle --steps 10 --seed 2 --fast") == 6
    assert middle_computations(tiny_engine, "a red circle --steps 10 --seed 2") == 10


def test_fast_draws_nearly_the_full_image(builtin_engine: Engine) -> None:
    """Draw with --fast what the full steps draw (a deterministic sampler), within 3 levels.

    An ancestral sampler (Euler a) adds fresh noise each step, which can carry the small
    error into another take of the prompt: the benchmark's figures say by how much.
    """
    prompt = "a red fox in the snow --steps 12 --seed 4 --sampler Euler"
    full = pixels(builtin_engine, prompt)
    cost = np.abs(pixels(builtin_engine, f"{prompt} --fast") - full).mean()
    other = np.abs(pixels(builtin_engine, prompt.replace("--seed 4", "--seed 5")) - full).mean()
    assert 0 < cost < 3
    assert other > 10 * cost


def test_a_fast_job_leaves_the_unet_as_it_was(tiny_engine: Engine) -> None:
    """Remove every wrapper after the call: the next job draws the same pixels as before."""
    before = pixels(tiny_engine, "a blue star --steps 4 --seed 6")
    pixels(tiny_engine, "a blue star --steps 4 --seed 6 --fast")
    unet = tiny_engine.model.txt2img.unet
    assert all("forward" not in module.__dict__ for module in [unet, *deep_blocks(unet)])
    assert np.array_equal(pixels(tiny_engine, "a blue star --steps 4 --seed 6"), before)


def test_fast_on_sdxl_draws_nearly_the_full_image(sdxl_engine: Engine) -> None:
    """Cache the deep blocks of an SDXL UNet too: close to the full image, not equal."""
    full = pixels(sdxl_engine, "a red circle --steps 6 --seed 1")
    fast = pixels(sdxl_engine, "a red circle --steps 6 --seed 1 --fast")
    assert 0 < np.abs(fast - full).mean() < 20


def test_fast_on_flux_reuses_the_blocks_and_removes_its_hooks(flux_engine: Engine) -> None:
    """Reuse FLUX's later blocks below the threshold, and leave no cache hook behind."""
    loose = flux_engine.settings.model_copy(update={"fast_threshold": 1.0})
    flux_engine.settings, settings = loose, flux_engine.settings
    try:
        full = pixels(flux_engine, "a red circle --steps 4 --seed 1")
        fast = pixels(flux_engine, "a red circle --steps 4 --seed 1 --fast")
    finally:
        flux_engine.settings = settings
    assert 0 < np.abs(fast - full).mean() < 40
    assert not flux_engine.model.txt2img.transformer.is_cache_enabled
    assert np.array_equal(pixels(flux_engine, "a red circle --steps 4 --seed 1"), full)


def test_fast_and_full_jobs_never_share_a_call(tiny_engine: Engine) -> None:
    """Keep --fast jobs apart from full ones: the step cache covers a whole call."""
    full = tiny_engine.parse("a red circle --seed 1")
    with pytest.raises(ValueError, match="cannot batch"):
        check_batch([full, replace(full, fast=True)])


def test_fast_on_a_flux_image_prompt_holds_the_caches_state(
    flux_engine: Engine, tmp_path: Path
) -> None:
    """Draw a FLUX image prompt with --fast: its pipeline names no cache context of its own."""
    init = tmp_path / "init.png"
    Image.radial_gradient("L").convert("RGB").resize((64, 64)).save(init)
    prompt = "a red circle --steps 3 --seed 1 --fast"
    request = replace(flux_engine.parse(prompt, init_image=init), num_images=1)
    (image,) = flux_engine.generate(request).images
    assert image.size == (request.width, request.height)
