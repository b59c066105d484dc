"""Zoom Out, Pan and Vary (Region) on the built-in model: the new pixels mean what they should.

Each source is a grid image of a shape on a plain background; an edit's new border or strip
must take that background's colour, and the kept pixels must be the source's. Colours are
read as the nearest palette colour of the median pixel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from pipeline.canvas import cell_box, seam_width
from pipeline.edit_requests import EditRequests
from training.measure import measure_scene, nearest_colour

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine
    from pipeline.request import GenerationRequest

PROMPTS = ("a red circle on a blue background", "a yellow square on a purple background")


@pytest.fixture(scope="module")
def sources(
    builtin_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[GenerationRequest, Path, str]]:
    """Draw one image of each prompt; return its request, file and background colour."""
    folder = tmp_path_factory.mktemp("sources")
    found = []
    for index, prompt in enumerate(PROMPTS):
        request = builtin_engine.parse(f"{prompt} --seed {20 + index} --steps 12")
        image = builtin_engine.generate(request).images[0]
        path = folder / f"{index}.png"
        image.save(path)
        found.append((request, path, str(measure_scene(image).background_colour)))
    return found


def colour_of(pixels: np.ndarray) -> str:
    """Return the palette name of the median of some pixels."""
    return nearest_colour(np.median(pixels.reshape(-1, 3), axis=0))


def test_zoom_out_paints_the_border_in_the_background_and_keeps_the_centre(
    builtin_engine: Engine, sources: list[tuple[GenerationRequest, Path, str]]
) -> None:
    """Zoom out 2x: the new border is the source's background; the centre is the source."""
    edits = EditRequests(builtin_engine.requests)
    for source, path, background in sources:
        request = edits.zoom(source, path, 2.0, seed=3)
        assert request.edit is not None
        left, top, width, height = request.edit.box
        shrunk = np.asarray(
            Image.open(path).convert("RGB").resize((width, height), Image.Resampling.LANCZOS),
            dtype=np.float32,
        )
        seam = seam_width((request.width, request.height))
        for image in builtin_engine.generate(request).images:
            pixels = np.asarray(image, dtype=np.float32)
            frame = np.concatenate([pixels[:4].reshape(-1, 3), pixels[-4:].reshape(-1, 3)])
            assert colour_of(frame) == background
            centre = pixels[top + seam : top + height - seam, left + seam : left + width - seam]
            inner = shrunk[seam:-seam, seam:-seam]
            assert float(np.abs(centre - inner).mean()) < 1.0


def test_pan_paints_the_new_strip_in_the_background(
    builtin_engine: Engine, sources: list[tuple[GenerationRequest, Path, str]]
) -> None:
    """Pan right and down: the far half of each new strip is the source's background."""
    edits = EditRequests(builtin_engine.requests)
    for source, path, background in sources:
        for direction in ("right", "down"):
            request = edits.pan(source, path, direction, seed=4)  # type: ignore[arg-type]
            for image in builtin_engine.generate(request).images:
                pixels = np.asarray(image)
                far = pixels[:, -12:] if direction == "right" else pixels[-12:]
                assert colour_of(far) == background


def test_vary_region_redraws_the_chosen_cells_and_keeps_the_rest(
    builtin_engine: Engine, sources: list[tuple[GenerationRequest, Path, str]]
) -> None:
    """Redraw the left column under a new prompt: it changes; cells past the seam do not."""
    edits = EditRequests(builtin_engine.requests)
    source, path, _ = sources[0]
    request = edits.region(source, path, (0, 3, 6), prompt="a white star on a green background")
    original = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    seam = seam_width((request.width, request.height))
    _, _, column_end, _ = cell_box((request.width, request.height), 0)
    for image in builtin_engine.generate(request).images:
        pixels = np.asarray(image, dtype=np.float32)
        assert (
            float(np.abs(pixels[:, : column_end - seam] - original[:, : column_end - seam]).mean())
            > 20
        )
        kept = pixels[:, column_end + seam :] - original[:, column_end + seam :]
        assert float(np.abs(kept).max()) <= 1.0


@pytest.mark.parametrize("engine_name", ["sdxl_engine", "flux_engine"])
def test_every_family_zooms_and_redraws_regions(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Run a zoom and a region redraw on tiny SDXL and FLUX models through their inpainting."""
    engine: Engine = request.getfixturevalue(engine_name)
    edits = EditRequests(engine.requests)
    source = engine.parse("a red circle --seed 1")
    path = tmp_path / "source.png"
    engine.generate(source).images[0].save(path)
    for edit in (edits.zoom(source, path, 2.0), edits.region(source, path, (4,))):
        images = engine.generate(edit).images
        assert [image.size for image in images] == [(edit.width, edit.height)] * 4
