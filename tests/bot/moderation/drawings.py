"""Crude Pillow drawings that NudeNet's detector reads, for tests that need a detection.

Flat colours and noise give NudeNet nothing to find; this cartoon of a standing figure (ovals
and rectangles in skin tones) is read as exposed breasts with a score near 0.8, which lets
tests see the detector find something without shipping any real imagery.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter

SKIN = (230, 180, 150)


def cartoon_figure(side: int = 256) -> Image.Image:
    """Draw the figure on a pale grey background, softly blurred."""
    image = Image.new("RGB", (side, side), (200, 200, 210))
    draw = ImageDraw.Draw(image)

    def box(left: float, top: float, right: float, bottom: float) -> tuple[float, ...]:
        return (left * side, top * side, right * side, bottom * side)

    draw.ellipse(box(0.40, 0.05, 0.60, 0.25), fill=SKIN)  # head
    draw.rectangle(box(0.30, 0.25, 0.70, 0.70), fill=SKIN)  # torso
    for left in (0.33, 0.52):
        draw.ellipse(box(left, 0.32, left + 0.15, 0.47), fill=(235, 185, 155))
        draw.ellipse(box(left + 0.06, 0.38, left + 0.09, 0.41), fill=(180, 100, 90))
    draw.rectangle(box(0.32, 0.70, 0.48, 0.98), fill=SKIN)  # legs
    draw.rectangle(box(0.52, 0.70, 0.68, 0.98), fill=SKIN)
    return image.filter(ImageFilter.GaussianBlur(3))
