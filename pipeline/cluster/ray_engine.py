"""A worker's engine whose batches draw on Ray Serve replicas, one deployment per model.

It is a :class:`~pipeline.batch_runner.BatchEngine`: the worker thread calls
:meth:`RayEngine.generate_batch` exactly as it calls an in-process engine. Progress streams
back step by step; a cancel stops the replica at its next step; a replica that dies under the
call (its process killed, its node lost) is :class:`~pipeline.errors.EngineLostError`, which
the worker treats like a GPU fault: it takes a fresh engine and runs the batch again, within
``queue.max_attempts``, on another replica or the one Serve starts in its place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.errors import EngineLostError, GenerationCanceled

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from pipeline.engine import GenerationResult, Progress
    from pipeline.request import GenerationRequest


class RayEngine:
    """Send batches to the replicas of their model's deployment."""

    def __init__(self, handles: Mapping[str, Any]) -> None:
        self._handles = dict(handles)
        self.last_replica: str | None = None  # which replica drew the last batch

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Draw the batch on a replica of its model and return one result per request."""
        from ray.exceptions import RayActorError, RayTaskError  # noqa: PLC0415

        handle = self._handles[requests[0].model]
        response = handle.options(stream=True).run.remote(list(requests))
        try:
            for kind, payload in response:
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
        except RayActorError as error:
            raise EngineLostError(f"the replica drawing this batch was lost: {error}") from error
        except RayTaskError as error:
            cause: BaseException = error.as_instanceof_cause()  # type: ignore[no-untyped-call]
            raise cause from None
        raise EngineLostError("the replica's stream ended without results")
