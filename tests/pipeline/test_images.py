"""Untrusted input images: each hostile case is refused with a clear message; good ones decode."""

from __future__ import annotations

import errno
import io
import struct
import zlib
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from pipeline.config import InputImageSettings
from pipeline.errors import InputImageError
from pipeline.images import decode_input_image, make_grid, read_input_image, save_outputs
from tests.pipeline.disk_faults import fill_disk_on_save

if TYPE_CHECKING:
    from pathlib import Path

LIMITS = InputImageSettings(max_bytes=2 * 1024 * 1024, max_pixels=4_000_000)


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    """Encode an image to bytes in the given format."""
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """Build one PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming_size(width: int, height: int) -> bytes:
    """Build a tiny PNG whose header claims the given size (a decompression bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def solid(
    colour: tuple[int, ...], size: tuple[int, int] = (64, 48), mode: str = "RGB"
) -> Image.Image:
    """Return a solid image."""
    return Image.new(mode, size, colour)


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP"])
def test_allowed_formats_decode_to_rgb(image_format: str) -> None:
    """Decode PNG, JPEG and WebP to an RGB image of the same size."""
    image = decode_input_image(encode(solid((200, 30, 30)), image_format), LIMITS)
    assert image.mode == "RGB"
    assert image.size == (64, 48)


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "TIFF", "ICO"])
def test_other_formats_are_refused(image_format: str) -> None:
    """Refuse formats outside the allow-list, whatever the file is called."""
    with pytest.raises(InputImageError, match="PNG, JPEG or WebP"):
        decode_input_image(encode(solid((1, 2, 3)), image_format), LIMITS)


def test_non_image_bytes_are_refused() -> None:
    """Refuse bytes that are not an image at all."""
    with pytest.raises(InputImageError, match="not a PNG"):
        decode_input_image(b"<html><script>alert(1)</script></html>", LIMITS)


def test_empty_file_is_refused() -> None:
    """Refuse an empty upload."""
    with pytest.raises(InputImageError, match="empty"):
        decode_input_image(b"", LIMITS)


def test_oversized_file_is_refused_before_decoding() -> None:
    """Refuse a file over the byte limit, stating the limit."""
    with pytest.raises(InputImageError, match=r"limit is 2\.0 MB"):
        decode_input_image(b"\x89PNG" + b"\x00" * (3 * 1024 * 1024), LIMITS)


def test_decompression_bomb_over_the_pixel_budget_is_refused_unexpanded() -> None:
    """Refuse a small file that claims more pixels than the budget, naming its size."""
    with pytest.raises(InputImageError, match="5000×5000"):
        decode_input_image(png_claiming_size(5_000, 5_000), LIMITS)


def test_extreme_decompression_bomb_is_refused() -> None:
    """Refuse a header so large that Pillow itself calls it a bomb."""
    with pytest.raises(InputImageError, match="too many pixels"):
        decode_input_image(png_claiming_size(60_000, 60_000), LIMITS)


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP"])
def test_truncated_files_are_refused(image_format: str) -> None:
    """Refuse a file cut short, rather than decoding half an image."""
    noisy = Image.effect_noise((128, 128), 64).convert("RGB")
    data = encode(noisy, image_format)
    with pytest.raises(InputImageError, match=r"damaged or truncated|header is damaged"):
        decode_input_image(data[: len(data) // 2], LIMITS)


def test_tiny_images_are_refused() -> None:
    """Refuse images too small to use."""
    with pytest.raises(InputImageError, match="each side"):
        decode_input_image(encode(solid((0, 0, 0), (4, 4)), "PNG"), LIMITS)


def test_exif_orientation_is_applied() -> None:
    """Rotate a JPEG whose EXIF says it was taken sideways."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(solid((10, 200, 10), (64, 32)), "JPEG", exif=exif.tobytes())
    assert decode_input_image(data, LIMITS).size == (32, 64)


def test_animations_use_the_first_frame() -> None:
    """Decode only the first frame of an animated WebP."""
    frames = [solid((255, 0, 0)), solid((0, 0, 255))]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert decode_input_image(data, LIMITS).getpixel((10, 10)) == (255, 0, 0)


def test_transparency_becomes_white() -> None:
    """Flatten transparent pixels onto white."""
    data = encode(solid((255, 0, 0, 0), mode="RGBA"), "PNG")
    assert decode_input_image(data, LIMITS).getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(("mode", "colour"), [("L", 128), ("P", 3), ("1", 1), ("I;16", 300)])
def test_other_modes_convert_to_rgb(mode: str, colour: int) -> None:
    """Convert greyscale, palette, bilevel and 16-bit images to RGB."""
    data = encode(solid((colour,), mode=mode), "PNG")
    assert decode_input_image(data, LIMITS).mode == "RGB"


def test_cmyk_jpeg_converts_to_rgb() -> None:
    """Convert a CMYK JPEG to RGB."""
    data = encode(solid((0, 255, 255, 0), mode="CMYK"), "JPEG")
    assert decode_input_image(data, LIMITS).mode == "RGB"


def test_reading_a_file_refuses_oversized_files_unread(tmp_path: Path) -> None:
    """Check a file's size on disk before reading it."""
    path = tmp_path / "big.png"
    path.write_bytes(b"\x00" * (3 * 1024 * 1024))
    with pytest.raises(InputImageError, match="limit"):
        read_input_image(path, LIMITS)


def test_grid_places_four_images_two_by_two() -> None:
    """Compose four images into a 2×2 grid in reading order."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    grid = make_grid([solid(c, (10, 8)) for c in colours])
    assert grid.size == (20, 16)
    assert [grid.getpixel(p) for p in [(2, 2), (12, 2), (2, 10), (12, 10)]] == colours


def test_saving_outputs_leaves_only_the_finished_pngs(tmp_path: Path) -> None:
    """Rename each image into place, leaving no temporary file beside them."""
    folder = tmp_path / "job"
    save_outputs(folder, [solid((255, 0, 0)), solid((0, 0, 255))])
    assert sorted(path.name for path in folder.iterdir()) == ["1.png", "2.png"]
    with Image.open(folder / "2.png") as saved:
        assert saved.convert("RGB").getpixel((0, 0)) == (0, 0, 255)


def test_a_full_disk_while_saving_raises_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raise ENOSPC, and remove the cut-off PNG and the images saved before it."""
    fill_disk_on_save(monkeypatch, after=1)
    with pytest.raises(OSError, match="No space") as raised:
        save_outputs(tmp_path / "job", [solid((255, 0, 0)), solid((0, 0, 255))])
    assert raised.value.errno == errno.ENOSPC
    assert list(tmp_path.rglob("*")) == []
