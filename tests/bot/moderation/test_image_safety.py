"""Image safety: the policy per channel, failing closed, and the real offline classifier."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PIL import Image, ImageChops, ImageStat

from bot.moderation.image_safety import (
    NudeNetClassifier,
    SafetyReading,
    decide_showing,
    placeholder,
    read_safely,
)
from tests.bot.moderation.drawings import cartoon_figure

if TYPE_CHECKING:
    from collections.abc import Sequence

SAFE = SafetyReading(unsafe=False)
UNSAFE = SafetyReading(unsafe=True, labels=("BUTTOCKS_EXPOSED",), score=0.9)


@pytest.mark.parametrize(
    ("reading", "nsfw_channel", "mode", "expected"),
    [
        (SAFE, False, "spoiler", "post"),
        (SAFE, True, "spoiler", "post"),
        (UNSAFE, False, "spoiler", "withhold"),
        (UNSAFE, False, "as_is", "withhold"),
        (UNSAFE, True, "spoiler", "spoiler"),
        (UNSAFE, True, "as_is", "post"),
        (None, False, "as_is", "withhold"),
        (None, True, "as_is", "withhold"),
        (SAFE, True, "withhold", "post"),
        (UNSAFE, True, "withhold", "withhold"),
    ],
)
def test_the_policy_per_channel(
    reading: SafetyReading | None, nsfw_channel: bool, mode: str, expected: str
) -> None:
    """Withhold unsafe images outside age-restricted channels; never show unchecked ones."""
    assert decide_showing(reading, nsfw_channel=nsfw_channel, nsfw_mode=mode) == expected  # type: ignore[arg-type]


class Broken:
    """A classifier that fails, as a corrupt model file would."""

    def classify(self, images: Sequence[Image.Image]) -> list[SafetyReading]:
        """Fail."""
        raise RuntimeError("onnxruntime exploded")


def test_a_failing_classifier_withholds_everything() -> None:
    """Fail closed: an image that could not be checked is marked unreadable."""
    assert read_safely(Broken(), [Image.new("RGB", (8, 8))] * 2) == [None, None]


def test_the_models_own_safety_checker_is_honoured() -> None:
    """Treat an image the model's safety checker flagged as unsafe."""

    class Lenient:
        def classify(self, images: Sequence[Image.Image]) -> list[SafetyReading]:
            return [SAFE for _ in images]

    readings = read_safely(Lenient(), [Image.new("RGB", (8, 8))] * 2, flagged=[False, True])
    assert readings[0] == SAFE
    assert readings[1] is not None
    assert readings[1].unsafe


def largest_difference(first: Image.Image, second: Image.Image) -> int:
    """Return the largest difference between two images' pixels, over every channel."""
    return max(high for _, high in ImageChops.difference(first, second).getextrema())


def test_the_placeholder_hides_the_image_at_the_same_size() -> None:
    """Replace an image by a dark blur of the same size that keeps no detail."""
    noisy = Image.effect_noise((64, 48), 100).convert("RGB")
    # The same colours at 8×8, without any of the noise's detail.
    coarse = noisy.resize((8, 8)).resize(noisy.size, Image.Resampling.NEAREST)
    stand_in = placeholder(noisy)
    assert stand_in.size == noisy.size
    assert largest_difference(noisy, coarse) > 100
    assert largest_difference(stand_in, placeholder(coarse)) <= 4
    assert ImageStat.Stat(stand_in.convert("L")).mean[0] < 100


def test_the_real_classifier_runs_offline_and_passes_plain_images() -> None:
    """Load NudeNet's shipped weights and read flat and noisy images as safe."""
    classifier = NudeNetClassifier()
    images = [
        Image.new("RGB", (256, 256), (30, 120, 200)),
        Image.effect_noise((256, 256), 40).convert("RGB"),
    ]
    readings = classifier.classify(images)
    assert [reading.unsafe for reading in readings] == [False, False]


def test_the_real_classifier_flags_what_its_detector_finds() -> None:
    """Call unsafe an image NudeNet finds exposed body parts in, naming them."""
    (reading,) = NudeNetClassifier().classify([cartoon_figure()])
    assert reading.unsafe
    assert reading.labels == ("FEMALE_BREAST_EXPOSED",)
    assert reading.score > 0.5


def test_the_threshold_decides_how_sure_the_classifier_must_be() -> None:
    """Pass the same image when the server asks for more certainty than the detector has."""
    (reading,) = NudeNetClassifier(threshold=0.95).classify([cartoon_figure()])
    assert not reading.unsafe
