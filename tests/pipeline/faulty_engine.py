"""A wrapper around the real engine that injects faults and pauses, for queue tests.

It does not replace the engine: every call that is not made to fail runs the real
``generate_batch`` with the real model.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from pipeline.engine import Engine

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pipeline.config import PipelineConfig
    from pipeline.engine import GenerationResult, Progress
    from pipeline.request import GenerationRequest


@dataclass
class FaultyEngine:
    """Run the real engine, but fail or pause on command.

    ``oom_above_images``: raise CUDA out-of-memory for calls with more images than this.
    ``fail_prompts``: raise RuntimeError for calls containing a request with such a prompt.
    ``cuda_error_calls``: the GPU fails (``torch.AcceleratorError``) on this many calls; each
    failure poisons the engine as a sticky CUDA error does, failing every later call too until
    ``rebuild()`` (a poisoned call does not count against ``cuda_error_calls``).
    ``healthy_calls``: how many calls run before the GPU may fail.
    ``hold_after_first_step``: when set, block the worker after step 1 until ``release()``.
    ``step_delay``: sleep this long after every step, to make a job last.
    """

    engine: Engine
    oom_above_images: int | None = None
    fail_prompts: set[str] = field(default_factory=set)
    cuda_error_calls: int = 0
    healthy_calls: int = 0
    poisoned: bool = False
    rebuilds: int = 0
    hold_after_first_step: bool = False
    step_delay: float = 0.0
    calls: list[list[GenerationRequest]] = field(default_factory=list)
    last_steps: list[int] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    _released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        """Let a held call continue."""
        self._released.set()

    def rebuild(self, engine: Engine | None = None) -> FaultyEngine:
        """Count a rebuild, clear the poison, and run on ``engine`` (a fresh load) if given."""
        self.rebuilds += 1
        self.poisoned = False
        if engine is not None:
            self.engine = engine
        return self

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Record the call, inject any configured fault, else run the real engine."""
        self.calls.append(list(requests))
        self.last_steps.append(0)
        images = sum(request.num_images for request in requests)
        if self.poisoned or (self.cuda_error_calls > 0 and len(self.calls) > self.healthy_calls):
            if not self.poisoned:
                self.cuda_error_calls -= 1
            self.poisoned = True
            raise torch.AcceleratorError("CUDA error: an illegal memory access was encountered")
        if self.oom_above_images is not None and images > self.oom_above_images:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        if any(request.prompt in self.fail_prompts for request in requests):
            raise RuntimeError("injected engine failure")
        return self.engine.generate_batch(requests, progress=self._hold(progress), cancel=cancel)

    def _hold(self, progress: Callable[[Progress], None] | None) -> Callable[[Progress], None]:
        """Wrap the progress callback to pause after the first step when asked."""

        def on_progress(event: Progress) -> None:
            self.last_steps[-1] = event.step
            if self.step_delay:
                time.sleep(self.step_delay)
            if progress is not None:
                progress(event)
            if self.hold_after_first_step and event.step == 1:
                self.holding.set()
                self._released.wait(timeout=30)

        return on_progress


@dataclass
class Reloader:
    """The queue's ``rebuild_engine``: load the model afresh and put it in the faulty wrapper.

    It notes the worker index and the thread of each call; ``failures`` makes that many of
    the next reloads fail, as a reload on a GPU that is still broken does.
    """

    faulty: FaultyEngine
    config: PipelineConfig
    failures: int = 0
    indices: list[int] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)

    def __call__(self, index: int) -> FaultyEngine:
        """Load a fresh engine for worker ``index``, unless told to fail."""
        self.indices.append(index)
        self.threads.append(threading.current_thread().name)
        if self.failures:
            self.failures -= 1
            raise torch.AcceleratorError("CUDA error: an illegal memory access was encountered")
        return self.faulty.rebuild(Engine.from_config(self.config))
