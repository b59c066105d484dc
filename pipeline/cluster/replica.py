"""One engine replica on Ray Serve: a loaded model that draws the batches sent to it.

The draw runs in the replica's own thread while the request's async generator streams each
step's progress back. A sync generator would not do: Serve cannot stop one when the caller
cancels (measured: it runs to its end), so the generator here is async and, when cancelled,
sets the stop flag the engine reads between steps and waits for the draw to end.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pipeline.config import PipelineConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from pipeline.engine import Engine, GenerationResult, Progress
    from pipeline.request import GenerationRequest

# ("replica", id), then ("progress", Progress) per step, then ("done", [GenerationResult, …])
Event = tuple[str, Any]


class EngineReplica:
    """A Serve replica holding one model's engine (the deployment's class)."""

    def __init__(self, config: dict[str, Any], model: str) -> None:
        from pipeline.engine import Engine  # noqa: PLC0415 - torch loads in the replica only

        pipeline_config = PipelineConfig.model_validate(config)
        entry = pipeline_config.model_named(model)
        self._engine: Engine = Engine.from_config(pipeline_config, entry)
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
            await asyncio.gather(drawing, return_exceptions=True)
            raise

    @staticmethod
    def _replica_id() -> str:
        """Return this replica's id, so a caller can tell which replica drew its batch."""
        from ray import serve  # noqa: PLC0415

        return str(serve.get_replica_context().replica_id.unique_id)

    def check_health(self) -> None:
        """Tell Serve the replica is alive (a hung draw is caught by the job timeout)."""
