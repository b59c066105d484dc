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

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pipeline.engine import Engine, GenerationResult, Progress
    from pipeline.request import GenerationRequest


@dataclass
class FaultyEngine:
    """Run the real engine, but fail or pause on command.

    ``oom_above_images``: raise CUDA out-of-memory for calls with more images than this.
    ``fail_prompts``: raise RuntimeError for calls containing a request with such a prompt.
    ``hold_after_first_step``: when set, block the worker after step 1 until ``release()``.
    ``step_delay``: sleep this long after every step, to make a job last.
    """

    engine: Engine
    oom_above_images: int | None = None
    fail_prompts: set[str] = field(default_factory=set)
    hold_after_first_step: bool = False
    step_delay: float = 0.0
    calls: list[list[GenerationRequest]] = field(default_factory=list)
    last_steps: list[int] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    _released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        """Let a held call continue."""
        self._released.set()

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
