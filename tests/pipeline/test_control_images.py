"""The OpenCV preprocessing that turns a member's image into a ControlNet's control image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from pipeline.control_images import OPENCV_MODES, ControlMode, control_image

SQUARE = (20, 16, 44, 40)  # left, top, right, bottom: an off-centre square on a 64×64 image


def lines(image: Image.Image) -> np.ndarray:
    """Return a control image's line pixels as a boolean mask."""
    return np.asarray(image)[:, :, 0] > 127


def filled_square(colour: str = "red", background: str = "blue") -> Image.Image:
    """Draw a filled square, as the built-in model's scenes look."""
    image = Image.new("RGB", (64, 64), background)
    ImageDraw.Draw(image).rectangle(SQUARE, fill=colour)
    return image


def outline_band(width: int) -> np.ndarray:
    """Return the pixels within ``width`` of the square's outline."""
    rows, columns = np.mgrid[0:64, 0:64]
    left, top, right, bottom = SQUARE
    inside_outer = (
        (columns >= left - width)
        & (columns <= right + width)
        & (rows >= top - width)
        & (rows <= bottom + width)
    )
    inside_inner = (
        (columns > left + width)
        & (columns < right - width)
        & (rows > top + width)
        & (rows < bottom - width)
    )
    band: np.ndarray = inside_outer & ~inside_inner
    return band


def black_on_white_sketch() -> Image.Image:
    """Draw a member's sketch: a circle outline in a 4-pixel pen on a 256×256 page."""
    image = Image.new("RGB", (256, 256), "white")
    ImageDraw.Draw(image).ellipse((30, 40, 150, 160), outline="black", width=4)
    return image


@pytest.mark.parametrize("mode", OPENCV_MODES)
def test_every_mode_returns_an_rgb_image_of_the_asked_size(mode: ControlMode) -> None:
    """Return an RGB image of exactly (width, height), whatever the input's size."""
    result = control_image(black_on_white_sketch(), mode, (96, 48))
    assert result.mode == "RGB"
    assert result.size == (96, 48)


def test_canny_draws_the_outline_of_a_square_and_nothing_else() -> None:
    """Put Canny's lines on the square's outline and leave the rest black."""
    edges = lines(control_image(filled_square(), "canny", (64, 64)))
    band = outline_band(2)
    assert edges[band].sum() >= 80
    assert not edges[~band].any()


def test_canny_finds_the_outline_of_two_colours_of_the_same_grey() -> None:
    """Outline red on purple, which a grey-only edge detector cannot tell apart."""
    edges = lines(control_image(filled_square("red", "purple"), "canny", (64, 64)))
    assert edges[outline_band(2)].sum() >= 80


def test_a_sketch_and_its_negative_give_the_same_strokes() -> None:
    """Read dark strokes on white and white strokes on black as the same scribble."""
    sketch = black_on_white_sketch()
    dark_on_light = lines(control_image(sketch, "scribble", (64, 64)))
    light_on_dark = lines(control_image(ImageOps.invert(sketch), "scribble", (64, 64)))
    assert dark_on_light.sum() >= 60
    assert np.array_equal(dark_on_light, light_on_dark)


def test_scribble_strokes_are_thinned_to_one_pixel_at_64() -> None:
    """Redraw a thick pen as a line one pixel wide at 64×64, as Canny draws."""
    thick = Image.new("RGB", (256, 256), "white")
    ImageDraw.Draw(thick).line((20, 128, 236, 128), fill="black", width=16)
    strokes = lines(control_image(thick, "scribble", (64, 64)))
    middle = strokes[:, 16:48]
    assert (middle.sum(axis=0) == 1).all()


def test_lineart_outlines_a_filled_shape() -> None:
    """Draw a filled square as its outline, leaving its inside and the page black."""
    drawing = lines(control_image(filled_square("black", "white"), "lineart", (64, 64)))
    band = outline_band(2)
    assert drawing[band].sum() >= 80
    assert not drawing[~band].any()


@pytest.mark.parametrize("mode", OPENCV_MODES)
def test_preprocessing_is_deterministic(mode: ControlMode) -> None:
    """Give the same pixels for the same image every time."""
    image = filled_square("yellow", "green").resize((200, 150))
    first = control_image(image, mode, (64, 64))
    second = control_image(image.copy(), mode, (64, 64))
    assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("mode", ["depth", "pose"])
def test_modes_that_need_a_model_are_refused(mode: ControlMode) -> None:
    """Raise ValueError for depth and pose, which need models of their own."""
    with pytest.raises(ValueError, match="not an OpenCV mode"):
        control_image(filled_square(), mode, (64, 64))
