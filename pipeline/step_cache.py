"""``--fast``: reuse most of the denoiser's work from one step to the next, at a small cost.

Adjacent denoising steps compute nearly the same deep features, so a step cache recomputes
them only now and then:

- A UNet (SD 1.5, SDXL) gets **DeepCache**: the first ``fast_full_steps`` calls, which settle
  the composition, and then every ``fast_every``-th call run the whole UNet and keep the outputs
  of its deep blocks (every down block but the first, the middle block, every up block but the
  last). The calls between run only the time embedding, the first down block and the last up
  block, at full resolution, fed the kept deep features.
- A FLUX transformer gets diffusers' **first-block cache**: each step runs the first block, and
  while its output moves less than ``fast_threshold`` (relative) from the last fully computed
  step, the other blocks' contribution is reused.

Both are installed around one pipeline call and removed after it, so the model is unchanged for
the next job. Their speed and quality cost are measured by ``benchmarks/fast.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from torch import nn

Forward = Callable[..., Any]


class DeepCacheState:
    """Count the UNet's calls of one pipeline call and say which are computed in full."""

    def __init__(self, every: int, full_first: int) -> None:
        self.every = every
        self.full_first = full_first
        self.calls = 0
        self.full_calls = 0
        self.full = True

    def next_call(self) -> None:
        """Start a UNet call: full for the first ``full_first``, then one every ``every``."""
        after = self.calls - self.full_first
        self.full = after < 0 or after % self.every == 0
        self.full_calls += self.full
        self.calls += 1


@contextmanager
def forward_wrapped(module: nn.Module, wrap: Callable[[Forward], Forward]) -> Iterator[None]:
    """Replace ``module``'s forward by ``wrap(forward)`` during the block, then restore it.

    The module is left exactly as it was (no attribute added), so a compiled graph of it is
    not invalidated by a fast job drawn in between.
    """
    attributes = module.__dict__
    had_own = "forward" in attributes
    own = attributes.get("forward")
    attributes["forward"] = wrap(module.forward)
    try:
        yield
    finally:
        if had_own:
            attributes["forward"] = own
        else:
            del attributes["forward"]


def counting(state: DeepCacheState) -> Callable[[Forward], Forward]:
    """Wrap the UNet's forward so each call first decides whether it is a full one."""

    def wrap(forward: Forward) -> Forward:
        def counted(*args: Any, **kwargs: Any) -> Any:
            state.next_call()
            return forward(*args, **kwargs)

        return counted

    return wrap


def replaying(state: DeepCacheState) -> Callable[[Forward], Forward]:
    """Wrap a deep block so it runs on full calls and returns that output on the others."""

    def wrap(forward: Forward) -> Forward:
        kept: list[Any] = []

        def replayed(*args: Any, **kwargs: Any) -> Any:
            if state.full or not kept:
                kept[:] = [forward(*args, **kwargs)]
            return kept[0]

        return replayed

    return wrap


def deep_blocks(unet: Any) -> list[nn.Module]:
    """Return the blocks DeepCache skips between full calls: all but the outermost level."""
    middle = [unet.mid_block] if unet.mid_block is not None else []
    return [*unet.down_blocks[1:], *middle, *unet.up_blocks[:-1]]


@contextmanager
def deep_cache(unet: nn.Module, every: int, full_first: int) -> Iterator[DeepCacheState]:
    """Run ``unet`` with DeepCache during the block (one pipeline call)."""
    state = DeepCacheState(every, full_first)
    with ExitStack() as stack:
        stack.enter_context(forward_wrapped(unet, counting(state)))
        for block in deep_blocks(unet):
            stack.enter_context(forward_wrapped(block, replaying(state)))
        yield state


@contextmanager
def first_block_cache(transformer: Any, threshold: float) -> Iterator[None]:
    """Run a FLUX transformer with diffusers' first-block cache during the block."""
    from diffusers import FirstBlockCacheConfig  # noqa: PLC0415 - loaded with the family

    transformer.enable_cache(FirstBlockCacheConfig(threshold=threshold))
    try:
        # FluxPipeline names its own context per step; the img2img, inpainting and ControlNet
        # pipelines name none, so this one holds the cache's state for them.
        with transformer.cache_context("easel"):
            yield
    finally:
        transformer.disable_cache()
