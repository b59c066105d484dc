"""Describe the edits of an upscaled image: Zoom Out, Pan, Make Square and Vary (Region).

Each is a grid of four drawn by inpainting (:mod:`pipeline.canvas`) on the model of the image
it was pressed on, with that job's LoRAs and style. Every canvas is at the model's native
pixel count, so an edit costs about what a grid costs. The prompt may be rewritten (Custom
Zoom and Vary Region's Remix field); it is checked like any prompt but takes no parameters.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pipeline.canvas import native_canvas, pan_edit, region_edit, square_edit, zoom_edit
from pipeline.defaults import NO_DEFAULTS, JobDefaults, enforced
from pipeline.errors import ParameterError
from pipeline.parameters import split_parameters
from pipeline.request import GRID_IMAGES, check_prompt, parse_ratio, random_seed

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.canvas import Direction, Edit
    from pipeline.models import ModelProfile
    from pipeline.request import GenerationRequest
    from pipeline.request_builder import RequestBuilder

EDIT_STRENGTH = 1.0  # the repainted area starts from noise; the kept pixels come back after


class EditRequests:
    """Build edit requests from a finished job and the file of the image to edit."""

    def __init__(self, builder: RequestBuilder) -> None:
        self.builder = builder

    def zoom(
        self,
        source: GenerationRequest,
        image: Path,
        factor: float,
        *,
        ratio: str | None = None,
        prompt: str | None = None,
        seed: int | None = None,
        defaults: JobDefaults = NO_DEFAULTS,
    ) -> GenerationRequest:
        """Describe a Zoom Out by ``factor`` (1–2), optionally to a new ``--ar``."""
        profile = self.builder.source_profile(source)
        max_aspect = self.builder.settings.max_aspect
        canvas, edit = zoom_edit(
            (source.width, source.height),
            factor,
            ratio=None if not ratio else parse_ratio(ratio, max_aspect),
            native_pixels=_native_pixels(profile),
            multiple=profile.family.size_multiple,
        )
        return self._edited(
            source, image, canvas, edit, prompt=prompt, seed=seed, defaults=defaults
        )

    def square(
        self,
        source: GenerationRequest,
        image: Path,
        *,
        seed: int | None = None,
        defaults: JobDefaults = NO_DEFAULTS,
    ) -> GenerationRequest:
        """Describe a Make Square: the short side extended."""
        profile = self.builder.source_profile(source)
        canvas, edit = square_edit(
            (source.width, source.height),
            native_pixels=_native_pixels(profile),
            multiple=profile.family.size_multiple,
        )
        return self._edited(source, image, canvas, edit, prompt=None, seed=seed, defaults=defaults)

    def pan(
        self,
        source: GenerationRequest,
        image: Path,
        direction: Direction,
        *,
        seed: int | None = None,
        defaults: JobDefaults = NO_DEFAULTS,
    ) -> GenerationRequest:
        """Describe a Pan: the canvas grows by half its side towards ``direction``."""
        profile = self.builder.source_profile(source)
        canvas, edit = pan_edit(
            (source.width, source.height),
            direction,
            native_pixels=_native_pixels(profile),
            max_pixels=self.builder.limits(defaults).max_pixels,
            max_aspect=self.builder.settings.max_aspect,
            multiple=profile.family.size_multiple,
        )
        return self._edited(source, image, canvas, edit, prompt=None, seed=seed, defaults=defaults)

    def region(
        self,
        source: GenerationRequest,
        image: Path,
        cells: tuple[int, ...],
        *,
        prompt: str | None = None,
        seed: int | None = None,
        defaults: JobDefaults = NO_DEFAULTS,
    ) -> GenerationRequest:
        """Describe a Vary (Region): the chosen cells of a 3×3 grid redrawn."""
        profile = self.builder.source_profile(source)
        canvas = native_canvas(
            source.width / source.height, _native_pixels(profile), profile.family.size_multiple
        )
        edit = region_edit(canvas, cells)
        return self._edited(
            source, image, canvas, edit, prompt=prompt, seed=seed, defaults=defaults
        )

    def _edited(
        self,
        source: GenerationRequest,
        image: Path,
        canvas: tuple[int, int],
        edit: Edit,
        *,
        prompt: str | None,
        seed: int | None,
        defaults: JobDefaults,
    ) -> GenerationRequest:
        """Return the source's request as an edit of ``image`` on ``canvas``."""
        profile = self.builder.source_profile(source)
        edited = replace(
            source,
            width=canvas[0],
            height=canvas[1],
            seed=random_seed() if seed is None else seed,
            num_images=GRID_IMAGES,
            init_image=image,
            strength=EDIT_STRENGTH,
            operation="edit",
            model=profile.name,
            edit=edit,
            control_image=None,  # the image itself now guides it
        )
        if prompt is not None and prompt.strip() != source.prompt:
            edited = self._remixed(edited, prompt)
        return enforced(edited, defaults, profile)

    def _remixed(self, request: GenerationRequest, text: str) -> GenerationRequest:
        """Return the request with a rewritten prompt (Remix), its style's text following."""
        parsed = split_parameters(text)
        if parsed.values or parsed.loras:
            raise ParameterError(
                "Only the prompt can be changed here, without --parameters; press the "
                "buttons again for other settings, or start anew with /imagine."
            )
        prompt = check_prompt(parsed.prompt, self.builder.settings, "prompt")
        styled = (
            request.styled_prompt.replace(request.prompt, prompt) if request.styled_prompt else ""
        )
        return replace(request, prompt=prompt, styled_prompt=styled)


def _native_pixels(profile: ModelProfile) -> int:
    """Return the model's native pixel count."""
    width, height = profile.native_size
    return width * height
