"""A worker's engine whose batches draw on Ray Serve replicas, one deployment per model.

It is a :class:`~pipeline.batch_runner.BatchEngine`: the worker thread calls
:meth:`RayEngine.generate_batch` exactly as it calls an in-process engine. Progress streams
back step by step; a cancel (the owner's, the job timeout's, a shutdown's) stops the replica
at its next step, and is noticed even while the replica sends nothing (a hung one, or none
free yet), since the stream is read on a thread of its own. A replica that dies under the
call (its process killed, its node lost) is :class:`~pipeline.errors.EngineLostError`, which
the worker treats like a GPU fault: it takes a fresh engine and runs the batch again, within
``queue.max_attempts``, on another replica or the one Serve starts in its place.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from pipeline.errors import EngineLostError, GenerationCanceled

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from pipeline.engine import GenerationResult, Progress
    from pipeline.request import GenerationRequest

POLL_SECONDS = 0.2  # how often a silent stream is checked for a cancel
STATUS_SECONDS = 5.0  # how long Serve's answer on running replicas is reused (~30 ms a call)
_END = ("end", None)


class RayEngine:
    """Send batches to the replicas of their model's deployment."""

    def __init__(
        self, handles: Mapping[str, Any], *, applications: Mapping[str, str], default: str
    ) -> None:
        """Send each model's batches through ``handles``; ``applications`` names their apps."""
        self._handles = dict(handles)
        self._default = default  # the model a request (or a question) naming "" means
        self._applications = dict(applications)
        self._running: dict[str, int] = {}
        self._checked_at = -STATUS_SECONDS
        self.last_replica: str | None = None  # which replica drew the last batch

    def has_loaded(self, model: str) -> bool:
        """Tell whether ``model`` ("" for the default) has a replica running now.

        It is what /models shows as loaded; an autoscaled model scaled to zero is not.
        """
        name = model or self._default
        if time.monotonic() - self._checked_at > STATUS_SECONDS:
            self._running = running_replicas(self._applications)
            self._checked_at = time.monotonic()
        return self._running.get(name, 0) > 0

    @property
    def models(self) -> tuple[str, ...]:
        """Return the names of the models this engine can send batches for."""
        return tuple(self._handles)

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Draw the batch on a replica of its model and return one result per request."""
        handle = self._handles[requests[0].model or self._default]
        response = handle.options(stream=True).run.remote(list(requests))
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        threading.Thread(
            target=_read, args=(response, events), name="easel-ray-stream", daemon=True
        ).start()
        while True:
            try:
                kind, payload = events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                kind, payload = "quiet", None
            if cancel is not None and cancel():
                response.cancel()
                raise GenerationCanceled
            if kind == "replica":
                self.last_replica = payload
            elif kind == "progress" and progress is not None:
                progress(payload)
            elif kind == "done":
                results: list[GenerationResult] = payload
                return results
            elif kind == "error":
                raise payload
            elif kind == "end":
                raise EngineLostError("the replica's stream ended without results")


def running_replicas(applications: Mapping[str, str]) -> dict[str, int]:
    """Return how many replicas run for each model, from Serve's status of its application."""
    from ray import serve  # noqa: PLC0415 - the optional extra

    status = serve.status().applications
    counts: dict[str, int] = {}
    for model, name in applications.items():
        application = status.get(name)
        deployments = application.deployments.values() if application else ()
        counts[model] = sum(
            count
            for deployment in deployments
            for state, count in deployment.replica_states.items()
            if state == "RUNNING"  # a str enum
        )
    return counts


def _read(response: Any, events: queue.Queue[tuple[str, Any]]) -> None:
    """Put each event of the replica's stream on ``events``, then how the stream ended."""
    from ray.exceptions import RayActorError, RayTaskError  # noqa: PLC0415 - the optional extra

    try:
        for event in response:
            events.put(event)
        events.put(_END)
    except RayActorError as error:
        lost = EngineLostError(f"the replica drawing this batch was lost: {error}")
        events.put(("error", lost))
    except RayTaskError as error:
        cause: BaseException = error.as_instanceof_cause()  # type: ignore[no-untyped-call]
        events.put(("error", cause))
    except Exception as error:  # canceled by us, or Serve failed: say it, never hang
        events.put(("error", EngineLostError(f"the replica's stream failed: {error}")))
