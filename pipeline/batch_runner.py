"""Run one batch on one engine, containing every failure to the job that caused it.

This runs on the engine's worker thread. Out-of-memory frees what it can and retries once
with the batch split into single images (each image is identical either way, because each
has its own seed); a GPU fault (a CUDA error other than out-of-memory) poisons the engine, so
nothing more runs on it and every request not yet drawn comes back :class:`EngineBroken`, for
the worker to rebuild the engine; any other error in a batch of several jobs is isolated by
running each job alone, so one bad job cannot fail its neighbours. What comes back is one
:data:`RequestOutcome` per request, never an exception.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import torch

from pipeline.engine import GenerationResult
from pipeline.errors import EngineLostError, GenerationCanceled, ModelUnavailableError, UserError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pipeline.engine import Progress
    from pipeline.request import GenerationRequest

logger = logging.getLogger(__name__)

OUT_OF_MEMORY_MESSAGE = (
    "the GPU ran out of memory drawing this, even on its own. Try a smaller --ar, fewer "
    "--steps, or ask the server owner to enable the memory savers in config.yaml."
)
INTERNAL_ERROR_MESSAGE = "something went wrong inside the engine (reference {reference})."
# What torch and its cuBLAS/cuDNN wrappers put in the message of a failed GPU call, for the
# errors that reach us as a plain RuntimeError rather than torch.AcceleratorError.
_GPU_FAULT_MARKERS = (
    "CUDA error",
    "CUDA driver error",
    "CUBLAS_STATUS_",
    "cuDNN error",
    "CUDNN_STATUS_",
    "device-side assert",
)


class BatchEngine(Protocol):
    """What the queue needs from an engine: run compatible requests in one call."""

    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[GenerationResult]:
        """Return one result per request, in order."""


@dataclass(frozen=True)
class Succeeded:
    """The request's images."""

    result: GenerationResult


@dataclass(frozen=True)
class Failed:
    """The request failed; ``message`` is fit for its owner."""

    message: str


@dataclass(frozen=True)
class Interrupted:
    """The call was stopped between steps (cancel, timeout or shutdown)."""


@dataclass(frozen=True)
class EngineBroken:
    """The GPU failed under the call: the engine must be rebuilt before it draws again.

    ``message`` is fit for the owner, for when no rebuild is possible.
    """

    message: str


RequestOutcome = Succeeded | Failed | Interrupted | EngineBroken


def is_out_of_memory(error: BaseException) -> bool:
    """Tell GPU and host out-of-memory errors from other failures."""
    return isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError))


def is_gpu_fault(error: BaseException) -> bool:
    """Tell a failed GPU call (other than out-of-memory) from an error of the request itself.

    torch raises ``torch.AcceleratorError`` ("CUDA error: an illegal memory access was
    encountered", "... device-side assert triggered") when a CUDA call fails. Such errors are
    usually sticky: the CUDA context is poisoned and every later call on it fails as well, so
    running the request again on the same engine, or its neighbours one by one, cannot help.
    """
    if is_out_of_memory(error):
        return False
    if isinstance(error, (torch.AcceleratorError, EngineLostError)):
        return True
    return isinstance(error, RuntimeError) and any(
        marker in str(error) for marker in _GPU_FAULT_MARKERS
    )


def free_memory() -> None:
    """Release cached allocations after an out-of-memory error."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_batch(
    engine: BatchEngine,
    requests: Sequence[GenerationRequest],
    *,
    progress: Callable[[Progress], None] | None,
    cancel: Callable[[], bool],
    reference: str,
) -> list[RequestOutcome]:
    """Run ``requests`` in one call, falling back as described above; never raise."""
    try:
        results = engine.generate_batch(requests, progress=progress, cancel=cancel)
    except GenerationCanceled:
        return [Interrupted() for _ in requests]
    except Exception as error:
        return _after_failure(engine, requests, error, cancel, reference)
    return [Succeeded(result) for result in results]


def _after_failure(
    engine: BatchEngine,
    requests: Sequence[GenerationRequest],
    error: Exception,
    cancel: Callable[[], bool],
    reference: str,
) -> list[RequestOutcome]:
    """Decide what a failed call means for each of its requests (see the module docstring)."""
    if is_out_of_memory(error):
        logger.warning("out of memory on a batch of %d request(s); splitting", len(requests))
        free_memory()
        return _one_by_one(requests, lambda request: _run_split(engine, request, cancel, reference))
    if is_gpu_fault(error):
        return [_broken(error, reference)] * len(requests)
    if isinstance(error, ModelUnavailableError):
        return [Failed(str(error))] * len(requests)  # one by one would load it again
    if len(requests) > 1:
        logger.warning("a batch failed (%s); running each job alone", error)
        return _one_by_one(
            requests,
            lambda request: run_batch(
                engine, [request], progress=None, cancel=cancel, reference=reference
            )[0],
        )
    return [_failure(error, reference)]


def _one_by_one(
    requests: Sequence[GenerationRequest],
    run_one: Callable[[GenerationRequest], RequestOutcome],
) -> list[RequestOutcome]:
    """Run each request alone, until the GPU fails: nothing more can run on that engine."""
    outcomes: list[RequestOutcome] = []
    for request in requests:
        if outcomes and isinstance(outcomes[-1], EngineBroken):
            outcomes.append(outcomes[-1])
        else:
            outcomes.append(run_one(request))
    return outcomes


def _run_split(
    engine: BatchEngine,
    request: GenerationRequest,
    cancel: Callable[[], bool],
    reference: str,
) -> RequestOutcome:
    """Run one request image by image, after an out-of-memory error."""
    images = []
    flagged: list[bool] = []
    duration = 0.0
    for seed in request.seeds:
        single = replace(request, seed=seed, num_images=1)
        try:
            (result,) = engine.generate_batch([single], progress=None, cancel=cancel)
        except GenerationCanceled:
            return Interrupted()
        except Exception as error:
            if is_out_of_memory(error):
                free_memory()
                return Failed(OUT_OF_MEMORY_MESSAGE)
            if is_gpu_fault(error):
                return _broken(error, reference)
            return _failure(error, reference)
        images.extend(result.images)
        # The model's own safety checker must still be heard for images drawn one by one.
        flagged.extend(result.flagged or [False] * len(result.images))
        duration += result.duration
    return Succeeded(GenerationResult(request, images, duration, tuple(flagged)))


def _failure(error: Exception, reference: str) -> Failed:
    """Describe a failure: a user error's own words, else an apology with a reference."""
    if isinstance(error, UserError):
        return Failed(str(error))
    logger.error("generation failed (reference %s)", reference, exc_info=error)
    return Failed(INTERNAL_ERROR_MESSAGE.format(reference=reference))


def _broken(error: Exception, reference: str) -> EngineBroken:
    """Log a GPU fault for the server owner, and say the engine needs rebuilding."""
    logger.error(
        "the GPU failed (reference %s); its engine must be rebuilt", reference, exc_info=error
    )
    return EngineBroken(INTERNAL_ERROR_MESSAGE.format(reference=reference))
