"""One engine replica on Ray Serve: a loaded model that draws the batches sent to it.

The draw runs in the replica's own thread while the request's async generator streams each
step's progress back. A sync generator would not do: Serve cannot stop one when the caller
cancels (measured: it runs to its end), so the generator here is async and, when cancelled,
sets the stop flag the engine reads between steps and waits for the draw to end.

Serve calls :meth:`EngineReplica.check_health` every ``cluster.health_check_seconds``; it
fails, and Serve replaces the replica, when the device no longer computes (a poisoned CUDA
context) or a draw asked to stop has not stopped within ``cluster.hang_seconds`` (hung).
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import torch

from pipeline.config import PipelineConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from pipeline.engine import Engine, GenerationResult, Progress
    from pipeline.request import GenerationRequest

# ("replica", id), then ("progress", Progress) per step, then ("done", [GenerationResult, …])
Event = tuple[str, Any]


class EngineReplica:
    """A Serve replica holding one model's engine (the deployment's class)."""

    def __init__(self, config: dict[str, Any], model: str, built_from: str = "") -> None:
        from pipeline.engine import Engine  # noqa: PLC0415 - torch loads in the replica only

        pipeline_config = PipelineConfig.model_validate(config)
        entry = pipeline_config.model_named(model)
        self._engine: Engine = Engine.from_config(pipeline_config, entry)
        self._built_from = built_from  # the deployer's fingerprint of config and model
        self._hang_seconds = pipeline_config.cluster.hang_seconds
        self._stopping_since: float | None = None  # when a draw was asked to stop
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="easel-replica")

    async def run(self, requests: Sequence[GenerationRequest]) -> AsyncIterator[Event]:
        """Draw one batch, yielding its progress and then its results."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Event] = asyncio.Queue()
        stop = threading.Event()

        def on_progress(progress: Progress) -> None:
            loop.call_soon_threadsafe(events.put_nowait, ("progress", progress))

        def draw() -> list[GenerationResult]:
            return self._engine.generate_batch(requests, progress=on_progress, cancel=stop.is_set)

        drawing: asyncio.Future[list[GenerationResult]] = loop.run_in_executor(self._thread, draw)
        yield ("replica", self._replica_id())
        try:
            while not drawing.done() or not events.empty():
                waiting: asyncio.Future[Event] = asyncio.ensure_future(events.get())
                pending: set[asyncio.Future[Any]] = {waiting, drawing}
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if waiting.done():
                    yield waiting.result()
                else:
                    waiting.cancel()
            yield ("done", await drawing)
        except asyncio.CancelledError:
            stop.set()  # the engine stops at its next step; wait so the GPU is free again
            self._stopping_since = time.monotonic()
            try:
                await asyncio.gather(drawing, return_exceptions=True)
            finally:
                self._stopping_since = None
            raise

    @staticmethod
    def _replica_id() -> str:
        """Return this replica's id, so a caller can tell which replica drew its batch.

        Outside Serve (the class used as is, in-process) there is none: "".
        """
        from ray import serve  # noqa: PLC0415
        from ray.serve.exceptions import RayServeException  # noqa: PLC0415

        try:
            return str(serve.get_replica_context().replica_id.unique_id)
        except RayServeException:
            return ""

    def fingerprint(self) -> str:
        """Return what this replica was built from, so a restarted bot can re-attach to it."""
        return self._built_from

    def check_health(self) -> None:
        """Raise, so that Serve replaces this replica, if its device or its draw is stuck."""
        since = self._stopping_since
        if since is not None and time.monotonic() - since > self._hang_seconds:
            raise RuntimeError(
                f"a draw asked to stop {time.monotonic() - since:.0f} s ago is still running"
            )
        probe_device(self._engine.model.device)


def probe_device(device: torch.device) -> None:
    """Compute on ``device`` and read the answer back: raises once a CUDA context is poisoned.

    A CUDA fault (an illegal memory access, say) leaves every later call on that context
    failing, so one tiny sum is enough to tell a usable card from a broken one.
    """
    answer = torch.ones(4, device=device).sum().cpu()
    if float(answer) != 4.0:
        raise RuntimeError(f"{device} computed 1+1+1+1 = {float(answer)}")
