"""The geometry of edits: where the source lands, what is repainted, what comes back."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline.canvas import (
    Edit,
    cell_box,
    edit_inputs,
    pan_edit,
    paste_back,
    region_edit,
    seam_width,
    square_edit,
    zoom_edit,
)
from pipeline.errors import ParameterError

NATIVE = 64 * 64


def pan(direction: str, max_pixels: int = 10 * NATIVE) -> tuple[tuple[int, int], Edit]:
    """Pan a 128×128 upscale of a 64×64 model."""
    return pan_edit(
        (128, 128),
        direction,  # type: ignore[arg-type]
        native_pixels=NATIVE,
        max_pixels=max_pixels,
        max_aspect=4.0,
        multiple=8,
    )


def test_zoom_out_2x_shrinks_the_source_to_half_in_the_centre() -> None:
    """Put a 128×128 source at 32×32 in the middle of a native 64×64 canvas."""
    canvas, edit = zoom_edit((128, 128), 2.0, ratio=None, native_pixels=NATIVE, multiple=8)
    assert canvas == (64, 64)
    assert edit.box == (16, 16, 32, 32)


def test_a_custom_zoom_may_change_the_aspect() -> None:
    """Give a 2:1 canvas for --ar 2:1, the source fitted inside at 1/factor."""
    canvas, edit = zoom_edit((128, 128), 1.0, ratio=2.0, native_pixels=NATIVE, multiple=8)
    assert canvas[0] / canvas[1] == pytest.approx(2.0, abs=0.2)
    assert edit.box[3] == canvas[1]


def test_a_zoom_outside_one_to_two_is_refused() -> None:
    """Refuse a factor of 2.5 with the range."""
    with pytest.raises(ParameterError, match="from 1 to 2"):
        zoom_edit((64, 64), 2.5, ratio=None, native_pixels=NATIVE, multiple=8)


def test_a_zoom_of_one_at_the_same_aspect_is_refused() -> None:
    """Refuse a zoom that leaves nothing to paint."""
    with pytest.raises(ParameterError, match="nothing to paint"):
        zoom_edit((64, 64), 1.0, ratio=None, native_pixels=NATIVE, multiple=8)


def test_make_square_extends_the_short_side() -> None:
    """Make a square canvas with the wide source across its whole width."""
    canvas, edit = square_edit((128, 64), native_pixels=NATIVE, multiple=8)
    assert canvas[0] == canvas[1]
    assert edit.box[2] == canvas[0]
    assert edit.box[3] < canvas[1]


def test_make_square_refuses_a_square() -> None:
    """Say a square image is square already."""
    with pytest.raises(ParameterError, match="square already"):
        square_edit((64, 64), native_pixels=NATIVE, multiple=8)


@pytest.mark.parametrize(
    ("direction", "canvas", "box"),
    [
        ("left", (96, 64), (32, 0, 64, 64)),
        ("right", (96, 64), (0, 0, 64, 64)),
        ("up", (64, 96), (0, 32, 64, 64)),
        ("down", (64, 96), (0, 0, 64, 64)),
    ],
)
def test_pan_grows_the_canvas_by_half_towards_its_direction(
    direction: str, canvas: tuple[int, int], box: tuple[int, int, int, int]
) -> None:
    """Add a strip of half the side on the pan's side, the source beside it."""
    assert pan(direction) == (canvas, Edit("pan", box, direction=direction))  # type: ignore[arg-type]


def test_pan_past_max_pixels_shifts_the_canvas_instead() -> None:
    """Keep the canvas's size and slide the source half out of it."""
    canvas, edit = pan("right", max_pixels=NATIVE)
    assert canvas == (64, 64)
    assert edit.box == (-32, 0, 64, 64)


def test_a_region_needs_some_cells_but_not_all() -> None:
    """Refuse no cells, and all nine."""
    with pytest.raises(ParameterError, match="at least one"):
        region_edit((64, 64), ())
    with pytest.raises(ParameterError, match="whole image"):
        region_edit((64, 64), tuple(range(9)))


def test_edits_survive_being_stored() -> None:
    """Round-trip an edit through its dict."""
    edit = Edit("region", (0, 0, 64, 64), cells=(1, 4))
    assert Edit.from_dict(edit.to_dict()) == edit


def test_the_repaint_mask_covers_the_border_and_reaches_into_the_seam() -> None:
    """Mask everything outside the box, and a seam's width inside it, nothing deeper."""
    source = Image.new("RGB", (128, 128), (200, 30, 30))
    canvas, edit = zoom_edit((128, 128), 2.0, ratio=None, native_pixels=NATIVE, multiple=8)
    image, mask, _ = edit_inputs(source, canvas, edit)
    repaint = np.asarray(mask) > 0
    seam = seam_width(canvas)
    assert repaint[:16].all()
    assert repaint[16 : 16 + seam, 16:48].all()
    assert not repaint[16 + seam : 48 - seam, 16 + seam : 48 - seam].any()
    assert np.asarray(image)[32, 32].tolist() == [200, 30, 30]


def test_pasting_back_keeps_the_source_outside_the_seam_exactly() -> None:
    """Give back the kept pixels untouched past the seam, the generated ones where repainted."""
    rng = np.random.default_rng(0)
    source = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    edit = region_edit((64, 64), (0,))
    image, _, keep = edit_inputs(source, (64, 64), edit)
    generated = Image.new("RGB", (64, 64), (0, 255, 0))
    result = np.asarray(paste_back(generated, image, keep))
    left, top, right, bottom = cell_box((64, 64), 0)
    seam = seam_width((64, 64))
    assert (result[top : bottom - 1, left : right - 1] == [0, 255, 0]).all()
    assert (result[bottom + seam :] == np.asarray(source)[bottom + seam :]).all()
