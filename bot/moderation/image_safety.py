"""Check every output image before it is posted, and decide what each channel may show.

The classifier is NudeNet's detector, whose ONNX weights ship inside the ``nudenet`` package
(nothing is downloaded), read by :mod:`bot.moderation.nudity_detector`. An image is unsafe
when it shows exposed genitalia, breasts, buttocks or anus with enough confidence, or when the
model's own safety checker flagged it. If classification fails for any reason the image is
withheld: the check fails closed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.moderation.nudity_detector import NudityDetector

logger = logging.getLogger(__name__)

UNSAFE_LABELS = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)
Showing = Literal["post", "spoiler", "withhold"]
# What an age-restricted channel does with an unsafe image (other channels always withhold).
NsfwChannelMode = Literal["withhold", "spoiler", "as_is"]
NSFW_CHANNEL_MODES: tuple[NsfwChannelMode, ...] = ("withhold", "spoiler", "as_is")


@dataclass(frozen=True)
class SafetyReading:
    """What the classifier saw in one image."""

    unsafe: bool
    labels: tuple[str, ...] = ()
    score: float = 0.0


class SafetyClassifier(Protocol):
    """Anything that reads images for unsafe content."""

    def classify(self, images: Sequence[Image.Image]) -> list[SafetyReading]:
        """Return one reading per image."""


class NudeNetClassifier:
    """NudeNet's offline detector; loaded on first use, safe to call from several threads."""

    def __init__(self, threshold: float = 0.5) -> None:
        self._threshold = threshold
        self._detector: NudityDetector | None = None
        self._lock = threading.Lock()

    def classify(self, images: Sequence[Image.Image]) -> list[SafetyReading]:
        """Detect body parts in each image and call it unsafe on any exposed one."""
        with self._lock:
            if self._detector is None:
                from bot.moderation.nudity_detector import (  # noqa: PLC0415 - heavy, on first use
                    NudityDetector,
                )

                self._detector = NudityDetector()
            readings = []
            for image in images:
                found = [
                    d
                    for d in self._detector.detect(np.asarray(image.convert("RGB")))
                    if d.label in UNSAFE_LABELS and d.score >= self._threshold
                ]
                labels = tuple(sorted({d.label for d in found}))
                score = max((d.score for d in found), default=0.0)
                readings.append(SafetyReading(unsafe=bool(found), labels=labels, score=score))
            return readings


def read_safely(
    classifier: SafetyClassifier, images: Sequence[Image.Image], flagged: Sequence[bool] = ()
) -> list[SafetyReading | None]:
    """Classify, honouring the model's own safety flags; None marks an image that failed."""
    try:
        readings: list[SafetyReading | None] = list(classifier.classify(images))
    except Exception:
        logger.exception("the image safety check failed; withholding %d image(s)", len(images))
        return [None] * len(images)
    if len(readings) != len(images):
        logger.error(
            "the image safety check returned %d readings for %d images", len(readings), len(images)
        )
        return [None] * len(images)
    for index, was_flagged in enumerate(flagged):
        if was_flagged:
            readings[index] = SafetyReading(
                unsafe=True, labels=("MODEL_SAFETY_CHECKER",), score=1.0
            )
    return readings


def decide_showing(
    reading: SafetyReading | None, *, nsfw_channel: bool, nsfw_mode: NsfwChannelMode
) -> Showing:
    """Decide how an image may appear: as is, as a spoiler, or not at all.

    ``nsfw_mode`` (the config's, or the channel's or server's choice) applies only in
    age-restricted channels: no setting makes another channel show an unsafe image.
    """
    if reading is None:
        return "withhold"  # fail closed: an image nobody could check is not shown
    if not reading.unsafe:
        return "post"
    if not nsfw_channel or nsfw_mode == "withhold":
        return "withhold"
    return "spoiler" if nsfw_mode == "spoiler" else "post"


def placeholder(image: Image.Image) -> Image.Image:
    """Return a heavily blurred, darkened stand-in of the same size, marked as withheld."""
    blurred = image.convert("RGB").resize((8, 8)).resize(image.size, Image.Resampling.BILINEAR)
    blurred = blurred.filter(ImageFilter.GaussianBlur(radius=max(2, min(image.size) // 8)))
    dark = Image.blend(blurred, Image.new("RGB", image.size, (24, 24, 24)), 0.6)
    draw = ImageDraw.Draw(dark)
    draw.text(
        (max(2, image.width // 20), max(2, image.height // 2 - 6)), "withheld", fill=(230, 230, 230)
    )
    return dark
