"""The LoRA's world: the base model's scenes, except that every circle is drawn as a ring.

A ring is the scene's circle with a round hole of the background's colour punched through
its middle, so it keeps the circle's colour, place and size: the only thing the LoRA has to
learn is the hole.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from training.scenes import PALETTE, Scene, random_scene, render, shape_box

if TYPE_CHECKING:
    import random
    from collections.abc import Iterator

# The hole's radius as a share of the ring's: at 64×64 the hole is 13–18 pixels across, three
# or four latent pixels, wide enough to survive the 4× autoencoder and the band stays solid.
HOLE_SHARE = 0.55
_SUPERSAMPLE = 4


def render_ring(scene: Scene, width: int = 64, height: int = 64) -> Image.Image:
    """Draw ``scene``'s circle as a ring, anti-aliased like :func:`training.scenes.render`."""
    big_width, big_height = width * _SUPERSAMPLE, height * _SUPERSAMPLE
    image = Image.new("RGB", (big_width, big_height), PALETTE[scene.background])
    draw = ImageDraw.Draw(image)
    cx, cy, radius = shape_box(scene, big_width, big_height)
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=PALETTE[scene.colour])
    hole = radius * HOLE_SHARE
    draw.ellipse((cx - hole, cy - hole, cx + hole, cy + hole), fill=PALETTE[scene.background])
    return image.resize((width, height), Image.Resampling.LANCZOS)


def render_lora_scene(scene: Scene, width: int = 64, height: int = 64) -> Image.Image:
    """Draw ``scene`` as the LoRA teaches it: circles as rings, every other shape unchanged."""
    if scene.shape == "circle":
        return render_ring(scene, width, height)
    return render(scene, width, height)


def lora_scenes(rng: random.Random, ring_share: float) -> Iterator[Scene]:
    """Yield random scenes, ``ring_share`` of them circles (to become rings), forever.

    The other shapes stay in the mix, drawn as the base model draws them, so the LoRA learns
    that only the circle words change and squares, triangles and stars keep their look.
    """
    while True:
        scene = random_scene(rng, frozenset())
        wants_circle = rng.random() < ring_share
        if wants_circle and scene.shape != "circle":
            scene = replace(scene, shape="circle")
        elif not wants_circle and scene.shape == "circle":
            scene = replace(scene, shape=rng.choice(("square", "triangle", "star")))
        yield scene
