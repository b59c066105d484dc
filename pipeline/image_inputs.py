"""The images a pipeline call starts from: img2img's init images, and an edit's canvases.

Each request's source is read once with the safe-decoding limits, then given to every image
of the request. An edit (Zoom Out, Pan, Make Square, Vary Region) also gets its repaint mask,
and after the call its kept pixels go back over each image (:meth:`EditInputs.finish`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pipeline.canvas import edit_inputs, paste_back
from pipeline.images import read_input_image
from pipeline.super_resolution import SuperResolution, enlarge_to

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PIL import Image

    from pipeline.config import InputImageSettings
    from pipeline.request import GenerationRequest
    from pipeline.results import GenerationResult


def init_images(
    requests: Sequence[GenerationRequest],
    limits: InputImageSettings,
    upscaler: SuperResolution | None = None,
) -> list[Image.Image]:
    """Load each request's init image once and bring it to the output size.

    An upscale enlarges with the super-resolution model when one is configured; everything
    else (and every upscale without one) is resized with Lanczos.
    """
    images: list[Image.Image] = []
    for request in requests:
        assert request.init_image is not None  # check_batch guarantees it
        source = read_input_image(request.init_image, limits)
        size = (request.width, request.height)
        model = upscaler if request.operation == "upscale" else None
        images.extend([enlarge_to(source, size, model)] * request.num_images)
    return images


@dataclass(frozen=True)
class EditInputs:
    """One image, repaint mask and keep mask per image of a batch of edits."""

    images: list[Image.Image]
    masks: list[Image.Image]
    keeps: list[Image.Image]

    def finish(self, results: list[GenerationResult]) -> list[GenerationResult]:
        """Paste the kept pixels back over every generated image."""
        offset = 0
        finished: list[GenerationResult] = []
        for result in results:
            count = len(result.images)
            images = [
                paste_back(image, self.images[offset + index], self.keeps[offset + index])
                for index, image in enumerate(result.images)
            ]
            finished.append(replace(result, images=images))
            offset += count
        return finished


def edits_of(requests: Sequence[GenerationRequest], limits: InputImageSettings) -> EditInputs:
    """Build the canvas, repaint mask and keep mask of each request's edit."""
    images: list[Image.Image] = []
    masks: list[Image.Image] = []
    keeps: list[Image.Image] = []
    for request in requests:
        assert request.init_image is not None  # check_batch and the builder guarantee it
        assert request.edit is not None
        source = read_input_image(request.init_image, limits)
        image, mask, keep = edit_inputs(source, (request.width, request.height), request.edit)
        images += [image] * request.num_images
        masks += [mask] * request.num_images
        keeps += [keep] * request.num_images
    return EditInputs(images, masks, keeps)
