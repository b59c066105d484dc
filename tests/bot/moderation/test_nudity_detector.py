"""The fast reading of NudeNet's output: the same detections as NudeNet's own code."""

from __future__ import annotations

import numpy as np
import pytest
from nudenet import NudeDetector
from nudenet import nudenet as reference

from bot.moderation.nudity_detector import LABELS, NudityDetector, read_output
from tests.bot.moderation.drawings import cartoon_figure


def random_output(rng: np.random.Generator) -> np.ndarray:
    """Return a raw model output with a hundred or so candidates over the 0.2 floor."""
    output = np.zeros((1, 4 + len(LABELS), 2100), np.float32)
    output[0, 0:2] = rng.uniform(-20, 340, (2, 2100))  # centres, some off the input
    output[0, 2:4] = rng.uniform(1, 200, (2, 2100))  # sizes
    output[0, 4:] = rng.uniform(0, 1, (len(LABELS), 2100)) ** 12
    return output


def as_tuples(detections: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """Put NudeNet's dictionaries in the shape of our detections."""
    return [(d["class"], d["score"], tuple(d["box"])) for d in detections]  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(20))
def test_raw_outputs_are_read_as_nudenet_reads_them(seed: int) -> None:
    """Pick the same boxes, classes, scores and pixel boxes from the same raw output."""
    rng = np.random.default_rng(seed)
    width, height = (int(side) for side in rng.integers(16, 1100, 2))
    output = random_output(rng)
    side = max(width, height)
    expected = reference._postprocess(
        [output], side - width, side - height, side / width, side / height, width, height, 320, 320
    )
    ours = read_output(output, width, height)
    assert expected
    assert [(d.label, d.score, d.box) for d in ours] == as_tuples(expected)


def test_an_output_without_candidates_reads_as_nothing() -> None:
    """Find nothing when no class scores reach the floor."""
    assert read_output(np.zeros((1, 4 + len(LABELS), 2100), np.float32), 64, 64) == []


@pytest.mark.parametrize("size", [(256, 256), (300, 200), (180, 320)])
def test_whole_images_give_the_detections_nudenet_gives(size: tuple[int, int]) -> None:
    """Read a drawing end to end exactly as NudeNet's detector does (it takes BGR)."""
    rgb = np.asarray(cartoon_figure().resize(size))
    expected = as_tuples(NudeDetector().detect(np.ascontiguousarray(rgb[:, :, ::-1])))
    assert expected
    assert [(d.label, d.score, d.box) for d in NudityDetector().detect(rgb)] == expected
