"""``compile: true``: the denoiser compiled for a few shape buckets, warmed in the background.

The model's UNet (or FLUX transformer) is compiled once by torch.compile with static shapes
(on CUDA with CUDA graphs, ``reduce-overhead``, and the inductor settings diffusers recommends
for diffusion models). A compiled graph is only fast for shapes it has seen, and compiling a new
one takes minutes on a large model, so compiled graphs are used only for the **warm** buckets
(:mod:`pipeline.shape_buckets`): those ``warm_up`` names are compiled on a thread of their own at
start-up, on a pipeline object of their own, while the bot already answers; a job whose bucket is
not warm yet runs eager instead of waiting. A batch whose padded bucket is warm is padded up to
it with throw-away images. Inductor's graph cache lives under ``<data_dir>/compile-cache``, so a
restart compiles from the cache in seconds (measured on the CPU: 115 s cold, 11 s cached).

LoRAs change the denoiser's modules, which a compiled graph cannot follow: a job with LoRAs
runs eager, and once a LoRA has been loaded into the model every job of it runs eager until
the restart (a LoRA loads only between two bucket compiles, under :attr:`CompiledDenoiser.lock`).

Fused QKV projections (``compiled.fuse_qkv``) change the shared module for eager and compiled
draws alike; they are undone when the first LoRA loads. Channels-last weights are the model's
own switch (``model.channels_last``), measured with these by ``benchmarks/layouts.py``.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch

from pipeline.shape_buckets import Bucket, padded_images

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from pipeline.loading import LoadedModel
    from pipeline.request import GenerationRequest
    from pipeline.shape_buckets import CompileSettings

logger = logging.getLogger(__name__)

COMPILE_CACHE = "compile-cache"  # under the data directory

# diffusers' recommendations for diffusion models on CUDA (its "speed up inference" guide).
CUDA_INDUCTOR_SETTINGS = {
    "conv_1x1_as_mm": True,
    "coordinate_descent_tuning": True,
    "coordinate_descent_check_all_directions": True,
    "epilogue_fusion": False,
}


def use_compile_cache(directory: Path) -> None:
    """Keep inductor's compiled graphs under ``directory``, so that a restart is warm."""
    import torch._inductor.config as inductor  # noqa: PLC0415 - torch's own, loaded on use

    directory.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(directory)  # read when the cache is first used
    inductor.fx_graph_cache = True


def cache_state(directory: Path) -> str:
    """Say how much the compile cache holds (for ``--check``)."""
    if not directory.is_dir():
        return f"{directory} is empty: the first start compiles every warm-up bucket"
    files = [path for path in directory.rglob("*") if path.is_file()]
    size = sum(path.stat().st_size for path in files)
    return f"{directory}: {len(files)} file(s), {size / 2**20:.1f} MiB"


def compiled_decoder(vae: Any, mode: str) -> Any:
    """Return a view of ``vae`` (the same weights) whose decoder is compiled.

    A view, not the VAE itself, so the eager path and the encoder stay as they are: only the
    pipelines that draw a warm bucket are given it, for the length of that call.
    """
    view = copy.copy(vae)
    view._modules = dict(vae._modules)  # its own table of submodules; the modules are shared
    view.decoder = torch.compile(vae.decoder, mode=mode, dynamic=False)
    return view


def fuse_projections(denoiser: Any, settings: CompileSettings) -> bool:
    """Fuse each attention's QKV projections if configured; return whether they were fused.

    This changes the shared module, so eager draws get it too (within a level of the unfused
    pixels); the unfused weights are kept beside the fused ones, for LoRAs. A model whose
    attention cannot fuse (added KV projections, some quantised weights) is left unfused.
    """
    if not settings.fuse_qkv:
        return False
    try:
        denoiser.fuse_qkv_projections()
    except (ValueError, RuntimeError, TypeError, NotImplementedError) as error:
        logger.warning("QKV projections left unfused: %s", error)
        return False
    return True


def compile_mode(mode: str, device: torch.device) -> str:
    """Resolve ``auto``: CUDA graphs on CUDA, inductor's default elsewhere."""
    if mode != "auto":
        return mode
    return "reduce-overhead" if device.type == "cuda" else "default"


class CompiledDenoiser:
    """The model's denoiser, eager and compiled, and the buckets the compiled one is warm for."""

    def __init__(self, model: LoadedModel, settings: CompileSettings, cache_dir: Path) -> None:
        use_compile_cache(cache_dir)
        self.cache_dir = cache_dir
        if model.device.type == "cuda":
            import torch._inductor.config as inductor  # noqa: PLC0415

            for name, value in CUDA_INDUCTOR_SETTINGS.items():
                setattr(inductor, name, value)
        self.settings = settings
        mode = compile_mode(settings.mode, model.device)
        self.eager = model.family.denoiser(model.txt2img)
        self.fused = fuse_projections(self.eager, settings)
        self.compiled: Any = torch.compile(self.eager, mode=mode, dynamic=False)
        self.eager_vae = model.txt2img.vae
        self.compiled_vae = compiled_decoder(self.eager_vae, mode) if settings.vae else None
        self._attribute = model.family.denoiser_attribute
        self._warm: set[Bucket] = set()
        self.lock = threading.Lock()  # held while a bucket compiles; a LoRA loads outside it
        self.loras_loaded = False

    @property
    def warm(self) -> frozenset[Bucket]:
        """Return the buckets compiled so far."""
        return frozenset(self._warm)

    def padded(self, requests: Sequence[GenerationRequest]) -> list[GenerationRequest]:
        """Return the batch padded up to its warm bucket (a copy of the last request), if any."""
        first = requests[0]
        images = sum(request.num_images for request in requests)
        extra = padded_images(images, self.settings.batch_sizes) - images
        bucket = Bucket(first.width, first.height, images + extra)
        if extra == 0 or not self._usable(bucket, requests):
            return list(requests)
        return [*requests, replace(requests[-1], num_images=extra)]

    @contextmanager
    def chosen(self, pipe: Any, requests: Sequence[GenerationRequest]) -> Iterator[bool]:
        """Draw with the compiled denoiser during the block if the batch's bucket is warm.

        Only a pipeline drawing with the model's own denoiser qualifies (not a dedicated
        inpainting UNet), and not with a ControlNet, whose residuals change the call.
        """
        first = requests[0]
        bucket = Bucket(first.width, first.height, sum(r.num_images for r in requests))
        own = getattr(pipe, self._attribute, None) is self.eager
        if not own or not self._usable(bucket, requests):
            yield False
            return
        self.install(pipe)
        try:
            yield True
        finally:
            setattr(pipe, self._attribute, self.eager)
            if pipe.vae is self.compiled_vae:
                pipe.vae = self.eager_vae

    def install(self, pipe: Any) -> None:
        """Make ``pipe`` draw with the compiled denoiser (and decode with the compiled VAE)."""
        setattr(pipe, self._attribute, self.compiled)
        if self.compiled_vae is not None and pipe.vae is self.eager_vae:
            pipe.vae = self.compiled_vae

    def _usable(self, bucket: Bucket, requests: Sequence[GenerationRequest]) -> bool:
        """Tell whether the compiled graph may draw this batch."""
        changed = any(
            request.loras or request.tile or request.fast or request.control_image is not None
            for request in requests
        )
        return bucket in self._warm and not changed and not self.loras_loaded

    def activate_loras(self, activate: Callable[[], None], *, any_used: bool) -> None:
        """Switch LoRAs with ``activate``; the first one used makes the model eager for good."""
        if not any_used:
            activate()
            return
        with self.lock:  # never while a bucket compiles: the graph would trace the LoRA
            self.loras_loaded = True
            if self.fused:  # a LoRA adapts q, k and v apart, which fused projections skip
                eager: Any = self.eager
                eager.unfuse_qkv_projections()
                self.fused = False
            activate()

    def warm_up(
        self, buckets: Sequence[Bucket], draw: Callable[[Bucket], object]
    ) -> threading.Thread:
        """Compile ``buckets`` one by one on a thread of their own (``draw`` runs one)."""
        thread = threading.Thread(
            target=self._warm_all, args=(buckets, draw), name="easel-compile", daemon=True
        )
        thread.start()
        return thread

    def _warm_all(self, buckets: Sequence[Bucket], draw: Callable[[Bucket], object]) -> None:
        """Compile each bucket; stop at the first failure (the model then stays eager)."""
        for bucket in buckets:
            started = time.perf_counter()
            try:
                with self.lock:
                    if self.loras_loaded:
                        return
                    draw(bucket)
            except Exception:
                logger.exception("compiling the denoiser for %s failed; it stays eager", bucket)
                return
            self._warm.add(bucket)
            logger.info("compiled for %s in %.1f s", bucket, time.perf_counter() - started)


def choose_denoiser(
    compiled: CompiledDenoiser | None, pipe: Any, requests: Sequence[GenerationRequest]
) -> AbstractContextManager[bool]:
    """Return the block that draws with the compiled denoiser where it may, else nothing."""
    return compiled.chosen(pipe, requests) if compiled is not None else nullcontext(False)
