"""Which requests may share one pipeline call, and how one call's images go back to each.

Requests batch when everything that shapes the call is equal (size, steps, guidance, sampler,
strength, tiling, the model and its LoRAs); each still gets its own prompt, seeds and images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.results import GenerationResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pipeline.request import GenerationRequest


def split_per_request(
    requests: Sequence[GenerationRequest], output: Any, duration: float
) -> list[GenerationResult]:
    """Give each request its images from one pipeline output, and the safety checker's flags."""
    # Only SD pipelines carry a safety checker; the others have no such attribute.
    flags = getattr(output, "nsfw_content_detected", None) or [False] * len(output.images)
    results: list[GenerationResult] = []
    offset = 0
    for request in requests:
        images = output.images[offset : offset + request.num_images]
        flagged = tuple(bool(f) for f in flags[offset : offset + request.num_images])
        results.append(GenerationResult(request, list(images), duration, flagged))
        offset += request.num_images
    return results


def batch_key(request: GenerationRequest) -> tuple[object, ...]:
    """Return what requests must share to run in one pipeline call."""
    return (
        request.width,
        request.height,
        request.steps,
        request.guidance,
        request.sampler,
        request.init_image is None,
        request.edit is None,  # edits run the inpainting pipeline
        request.control_image is None,  # guided jobs run a ControlNet pipeline
        request.control_mode,
        request.control_weight,
        request.strength,
        request.tile,
        request.fast,
        request.model,
        request.stop,
        request.loras,
    )


def check_batch(requests: Sequence[GenerationRequest]) -> GenerationRequest:
    """Refuse an empty or mixed batch; return its first request, which speaks for all."""
    if not requests:
        raise ValueError("a batch needs at least one request")
    keys = {batch_key(request) for request in requests}
    if len(keys) > 1:
        raise ValueError(f"requests differ in size, steps or sampler and cannot batch: {keys}")
    return requests[0]
