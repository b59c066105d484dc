"""What the engine reports: progress while drawing, and the images a request produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.images import make_grid

if TYPE_CHECKING:
    from PIL import Image

    from pipeline.request import GenerationRequest


@dataclass(frozen=True)
class Progress:
    """Where a running generation is: step k of n, time so far, and optional previews."""

    step: int
    total_steps: int
    elapsed: float
    previews: tuple[Image.Image, ...] = ()
    loading_model: str | None = None  # set while the job waits for its model to load

    @property
    def fraction(self) -> float:
        """Return the share of steps done, from 0 to 1."""
        return self.step / self.total_steps if self.total_steps else 1.0

    @property
    def eta(self) -> float | None:
        """Estimate the seconds left from the pace so far, or None before the first step."""
        if self.step == 0:
            return None
        return self.elapsed / self.step * (self.total_steps - self.step)


@dataclass(frozen=True)
class GenerationResult:
    """A request's images, in seed order, and how long the call took."""

    request: GenerationRequest
    images: list[Image.Image]
    duration: float
    flagged: tuple[bool, ...] = field(default=())

    @property
    def seeds(self) -> list[int]:
        """Return the seed of each image, in order."""
        return self.request.seeds

    def grid(self) -> Image.Image:
        """Compose the images into the 2×2 grid users see."""
        return make_grid(self.images)
