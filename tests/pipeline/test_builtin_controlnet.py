"""The built-in model's ControlNet through Easel: a member's sketch puts the shape there.

Drawn with the repository's own config.yaml (canny and scribble both use the shipped
``models/controlnets/easel-tiny-canny``), through the path ``/imagine``'s control option takes:
the prompt names the shape and colours but not the position, and the sketch is a pen outline
of the shape in one of the nine cells of a 3×3 grid, none of them seen in training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from training.captions import canonical_caption
from training.controlnet_measure import held_out_scenes, shape_cell
from training.controlnet_scenes import render_placed, sketch

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine


def test_the_builtin_model_offers_canny_and_scribble(builtin_engine: Engine) -> None:
    """List both modes for the built-in model."""
    assert set(builtin_engine.profile.controlnets) == {"canny", "scribble"}


def test_a_sketch_puts_the_shape_in_its_cell(builtin_engine: Engine, tmp_path: Path) -> None:
    """Land the shape in the sketched cell in at least 80 % of the images, for both modes."""
    scenes = held_out_scenes(per_cell=1)
    for mode, picture in (("scribble", sketch), ("canny", render_placed)):
        hits = total = 0
        for index, placed in enumerate(scenes):
            path = tmp_path / f"{mode}-{index}.png"
            picture(placed).save(path)
            text = f"{canonical_caption(placed.scene)} --control {mode} --steps 10 --seed {index}"
            images = builtin_engine.generate(builtin_engine.parse(text, control_image=path)).images
            hits += sum(shape_cell(image) == placed.cell for image in images)
            total += len(images)
        assert hits / total >= 0.8, (mode, hits, total)


def test_without_the_sketch_the_shape_goes_anywhere(builtin_engine: Engine) -> None:
    """Show that the placement comes from the ControlNet: unguided, most shapes miss the cell."""
    scenes = held_out_scenes(per_cell=1)
    hits = total = 0
    for index, placed in enumerate(scenes):
        text = f"{canonical_caption(placed.scene)} --steps 10 --seed {index}"
        images = builtin_engine.generate(builtin_engine.parse(text)).images
        hits += sum(shape_cell(image) == placed.cell for image in images)
        total += len(images)
    assert hits / total <= 0.4
