"""Super-resolution for upscales: loading an owner's ESRGAN file, and enlarging with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.errors import ModelLoadError
from pipeline.esrgan import load_esrgan, read_weights
from pipeline.super_resolution import SuperResolution, enlarge_to

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pipeline.sr_files import UpscalerFiles

CPU = torch.device("cpu")


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    """Return an RGB image of smooth random colours (detail at every scale a seam would cut)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    return Image.fromarray(small, "RGB").resize((width, height), Image.Resampling.BICUBIC)


@pytest.fixture(scope="module")
def upscaler(upscaler_files: UpscalerFiles) -> SuperResolution:
    """Load the tiny 2× ESRGAN on the CPU."""
    return SuperResolution.load(upscaler_files.pth, CPU, torch.float32)


GOOD_MODELS = [
    "2x-basicsr.pth",
    "2x-basicsr.safetensors",
    "2x-old-esrgan.pth",
    "2x-old-esrgan.safetensors",
    "2x-sequential.pth",
    "4x-sequential.safetensors",
    "2x-unshuffle-basicsr.pth",
]


@pytest.mark.parametrize("name", GOOD_MODELS)
def test_load_reads_every_layout_as_the_network_saved(
    upscaler_files: UpscalerFiles, name: str
) -> None:
    """Read each layout and format back as the very network that was saved, scale included."""
    model = upscaler_files.models[name]
    loaded = load_esrgan(read_weights(model.path))
    assert loaded.shape == model.shape
    saved, read = model.network().state_dict(), loaded.state_dict()
    assert read.keys() == saved.keys()
    assert all(torch.equal(value, saved[key]) for key, value in read.items())


@pytest.mark.parametrize("name", GOOD_MODELS)
def test_every_layout_enlarges_as_its_network_does(
    upscaler_files: UpscalerFiles, name: str
) -> None:
    """Enlarge with a loaded file exactly as with the network it was saved from."""
    model = upscaler_files.models[name]
    image = noise(23, 17)  # odd sides: the x2plus model pads them for its unshuffle
    loaded = SuperResolution.load(str(model.path), CPU, torch.float32)
    built = SuperResolution(model.network())
    size = (23 * loaded.scale, 17 * loaded.scale)
    assert loaded.scale == model.shape.scale
    assert np.array_equal(
        np.asarray(loaded.enlarge(image, size)), np.asarray(built.enlarge(image, size))
    )


def test_the_same_weights_enlarge_alike_in_every_layout(upscaler_files: UpscalerFiles) -> None:
    """Give the same pixels for the same 2× weights whichever layout and format hold them."""
    image = noise(20, 12)
    results = {
        name: np.asarray(
            SuperResolution.load(model.path, CPU, torch.float32).enlarge(image, (40, 24))
        )
        for name, model in upscaler_files.models.items()
        if model.shape == upscaler_files.models["2x-basicsr.pth"].shape
    }
    assert len(results) == 5
    first = next(iter(results.values()))
    assert all(np.array_equal(first, result) for result in results.values())


def test_enlarge_returns_exactly_the_asked_size_in_rgb(upscaler: SuperResolution) -> None:
    """Give back exactly the asked size, in RGB, whatever the input's mode."""
    image = noise(40, 30).convert("RGBA")
    enlarged = upscaler.enlarge(image, (75, 53))
    assert (enlarged.size, enlarged.mode) == ((75, 53), "RGB")


def test_a_2x_model_reaches_a_4x_request_by_running_twice(upscaler: SuperResolution) -> None:
    """Run a 2× model twice for a 4× request, so Lanczos never has to enlarge."""
    image = noise(24, 16)
    twice = upscaler.enlarge(upscaler.enlarge(image, (48, 32)), (96, 64))
    assert np.array_equal(np.asarray(upscaler.enlarge(image, (96, 64))), np.asarray(twice))


def test_the_model_draws_rather_than_lanczos(upscaler: SuperResolution) -> None:
    """Enlarge with the model when one is given, not with Lanczos."""
    image = noise(32, 32)
    lanczos = np.asarray(enlarge_to(image, (64, 64), None), dtype=np.int16)
    drawn = np.asarray(enlarge_to(image, (64, 64), upscaler), dtype=np.int16)
    assert np.abs(drawn - lanczos).mean() > 10


# An odd tile for the x2plus model: cut where its 2×2 unshuffle grid is not, it would differ.
@pytest.mark.parametrize(
    ("name", "tile"), [("2x-basicsr.pth", 24), ("2x-unshuffle-basicsr.pth", 25)]
)
def test_tiles_leave_no_seam(upscaler_files: UpscalerFiles, name: str, tile: int) -> None:
    """Enlarge in overlapping tiles to what the whole image gives, seams included."""
    image = noise(64, 40)
    path = upscaler_files.models[name].path
    whole = SuperResolution.load(path, CPU, torch.float32, tile=64)
    tiled = SuperResolution.load(path, CPU, torch.float32, tile=tile)
    expected = np.asarray(whole.enlarge(image, (128, 80)), dtype=np.int16)
    actual = np.asarray(tiled.enlarge(image, (128, 80)), dtype=np.int16)
    # 3×2 tiles with the default overlap; without it the seams differ by tens of levels.
    assert np.abs(actual - expected).max() <= 1


def test_enlarge_to_without_a_model_is_lanczos() -> None:
    """Resize with Lanczos when no upscaler is configured, as before super-resolution."""
    image = noise(40, 30)
    expected = image.resize((80, 60), Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(enlarge_to(image, (80, 60), None)), np.asarray(expected))


EXPECTED = "an ESRGAN-family super-resolution model (.pth or .safetensors)"


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("restoration", "does not enlarge"),
        ("not_a_model", "none of the ESRGAN layouts"),
        ("incomplete", "do not fit an ESRGAN"),
        ("garbage", "could not be read"),
        ("truncated", "could not be read"),
    ],
)
def test_load_refuses_a_file_that_is_no_upscaler(
    upscaler_files: UpscalerFiles, kind: str, says: str
) -> None:
    """Refuse a 1× model, other weights, a layer short or a broken file, naming the file."""
    path: Path = getattr(upscaler_files, kind)
    with pytest.raises(ModelLoadError, match=says) as refused:
        SuperResolution.load(path, CPU, torch.float32)
    assert str(refused.value).startswith(f"upscaler: {path} ")
    assert EXPECTED in str(refused.value)


def test_load_refuses_a_missing_file(tmp_path: Path) -> None:
    """Refuse a path with no file, naming it and what it should be."""
    path = tmp_path / "4x-UltraSharp.pth"
    with pytest.raises(ModelLoadError, match="does not exist") as refused:
        SuperResolution.load(path, CPU, torch.float32)
    assert str(refused.value).startswith(f"upscaler: {path} ")
    assert EXPECTED in str(refused.value)
