"""Captions: varied wording that still names what the scene shows."""

from __future__ import annotations

import random

from training.captions import SHAPE_WORDS, canonical_caption, caption
from training.scenes import Scene


def test_the_canonical_caption_is_the_plain_sentence() -> None:
    """Describe a scene the way the README's examples do."""
    scene = Scene("red", "circle", "blue", "top left")
    assert canonical_caption(scene) == "a red circle on a blue background"
    assert canonical_caption(scene, with_position=True).endswith("in the top left")


def test_captions_vary_but_never_name_a_wrong_colour_or_shape() -> None:
    """Paraphrase freely while only ever naming the scene's own colours and shape."""
    rng = random.Random(1)
    scene = Scene("yellow", "circle", "purple", "center")
    captions = {caption(scene, rng) for _ in range(300)}
    assert len(captions) > 30
    for text in captions:
        words = set(text.split())
        assert words & set(SHAPE_WORDS["circle"]), text
        assert not words & {"red", "green", "blue", "orange", "white", "black"}, text
