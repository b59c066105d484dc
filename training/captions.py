"""Captions for scenes, with the paraphrases and omissions real prompts have.

A caption may leave out the position, the background or the shape's colour: the model then
learns that an unnamed attribute is free, which is what makes ``--no red`` on "a circle on a
white background" meaningful.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random

    from training.scenes import Scene

SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "circle", "ball", "disc", "dot"),
    "square": ("square", "square", "box", "block"),
    "triangle": ("triangle",),
    "star": ("star",),
}
BACKGROUND_WORDS = ("background", "background", "backdrop")
POSITION_PHRASES: dict[str, tuple[str, ...]] = {
    "center": ("in the center", "in the middle", "centered"),
    "top left": ("in the top left", "in the top left corner", "at the top left"),
    "top right": ("in the top right", "in the top right corner", "at the top right"),
    "bottom left": ("in the bottom left", "in the bottom left corner", "at the bottom left"),
    "bottom right": ("in the bottom right", "in the bottom right corner", "at the bottom right"),
    "left": ("on the left", "at the left"),
    "right": ("on the right", "at the right"),
    "top": ("at the top",),
    "bottom": ("at the bottom",),
}


def canonical_caption(scene: Scene, *, with_position: bool = False) -> str:
    """Return the plain caption evaluation uses: "a red circle on a blue background"."""
    caption = f"a {scene.colour} {scene.shape} on a {scene.background} background"
    if with_position:
        caption += " " + POSITION_PHRASES[scene.position][0]
    return caption


def caption(scene: Scene, rng: random.Random) -> str:
    """Return one random description of ``scene`` (it may leave attributes out)."""
    shape = rng.choice(SHAPE_WORDS[scene.shape])
    backdrop = rng.choice(BACKGROUND_WORDS)
    roll = rng.random()
    colour = "" if roll < 0.07 else scene.colour + " "
    has_background = not (0.07 <= roll < 0.14)
    position = rng.choice(POSITION_PHRASES[scene.position]) if rng.random() < 0.6 else ""

    template = rng.randrange(5)
    article = "an" if not colour and shape[0] in "aeiou" else "a"
    if colour and colour[0] in "aeiou":
        article = "an"
    subject = f"{article} {colour}{shape}"
    if not has_background:
        parts = [subject, position]
    elif template == 0:
        parts = [subject, f"on a {scene.background} {backdrop}", position]
    elif template == 1:
        parts = [subject, position, f"on a {scene.background} {backdrop}"]
    elif template == 2:
        parts = [f"{scene.background} {backdrop} with {subject}", position]
    elif template == 3:
        parts = [f"{colour}{shape}".strip(), f"on {scene.background}", position]
    else:
        parts = [f"a {shape} in {scene.colour}" if colour else subject]
        parts += [f"on a {scene.background} {backdrop}", position]
    return " ".join(part for part in parts if part)
