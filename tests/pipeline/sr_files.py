"""Build tiny random ESRGAN upscaler files offline, in each key layout owners download.

The network is :class:`pipeline.esrgan.RRDBNet` at a tiny width and depth. Its state dict is in
the Real-ESRGAN (BasicSR) layout; the old ESRGAN layout and the original sequential one are
made from it here by the tables below, written from those projects' module names and not from
the loader's reading rules, so a test that loads them checks the loader against a second
account of each layout. Weights are drawn to keep the signal's strength through the layers and
the output near mid-grey: a default-initialised ESRGAN answers almost zero whatever it is shown,
which would hide a seam or a mix-up of tiles.

``upscaler_files`` is the session fixture of every such file the tests need.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from pipeline.esrgan import RRDBNet, RrdbShape

if TYPE_CHECKING:
    from pathlib import Path

Layout = Literal["basicsr", "old-esrgan", "sequential"]

TWO_X = RrdbShape(features=8, blocks=2, growth=4, image_channels=3, out_channels=3, upsamplings=1)
FOUR_X = replace(TWO_X, upsamplings=2)
TWO_X_UNSHUFFLED = replace(TWO_X, upsamplings=2, unshuffle=2)
"""Real-ESRGAN's x2plus: 2×2 pixels folded into 12 channels, in front of a 4× body."""
ONE_X = replace(TWO_X, upsamplings=0)
"""A restoration model (a de-JPEG, a denoiser): ESRGAN without its upsampling."""

OLD_ESRGAN_NAMES = {
    "conv_first": "conv_first",
    "conv_body": "trunk_conv",
    "conv_up1": "upconv1",
    "conv_up2": "upconv2",
    "conv_hr": "HRconv",
    "conv_last": "conv_last",
}
"""The old ESRGAN code's name (BSRGAN, RealSR) of each layer outside the trunk's blocks."""


def sequential_names(shape: RrdbShape) -> dict[str, str]:
    """Return where each layer outside the blocks sits in the original ``nn.Sequential``.

    ``model.1`` is the shortcut around the trunk (its blocks, then its convolution); each ×2
    step is an upsample, a convolution and an activation; then the HR convolution, an
    activation and the last convolution. Only convolutions hold weights.
    """
    steps = shape.upsamplings
    names = {"conv_first": "model.0", "conv_body": f"model.1.sub.{shape.blocks}"}
    names |= {f"conv_up{step}": f"model.{3 * step}" for step in range(1, steps + 1)}
    return names | {"conv_hr": f"model.{3 * steps + 2}", "conv_last": f"model.{3 * steps + 4}"}


def in_layout(key: str, layout: Layout, shape: RrdbShape) -> str:
    """Name the Real-ESRGAN ``key`` as ``layout`` saves it."""
    if layout == "basicsr":
        return key
    parts = key.split(".")
    if parts[0] == "body":  # body.<block>.rdb<n>.conv<m>.<weight|bias>
        _, block, dense, conv, kind = parts
        dense = dense.upper()
        if layout == "old-esrgan":
            return f"RRDB_trunk.{block}.{dense}.{conv}.{kind}"
        return f"model.1.sub.{block}.{dense}.{conv}.0.{kind}"  # a conv_block: conv, activation
    name, kind = parts
    names = OLD_ESRGAN_NAMES if layout == "old-esrgan" else sequential_names(shape)
    return f"{names[name]}.{kind}"


def build_tiny_esrgan(shape: RrdbShape = TWO_X, *, seed: int = 0) -> RRDBNet:
    """Return a tiny ESRGAN with seeded random weights whose output follows its input."""
    torch.manual_seed(seed)
    network = RRDBNet(shape)
    convolutions = [layer for layer in network.modules() if isinstance(layer, nn.Conv2d)]
    with torch.no_grad():
        for conv in convolutions:
            nn.init.kaiming_normal_(conv.weight, a=0.2)  # the network's LeakyReLU slope
            assert conv.bias is not None  # every ESRGAN convolution has one
            conv.bias.zero_()
        last = network.conv_last
        last.weight.mul_(0.1)  # an output near mid-grey, little of it clamped to 0 or 1
        assert last.bias is not None
        last.bias.fill_(0.5)
    return network.eval()


def layout_state(shape: RrdbShape, layout: Layout, seed: int = 0) -> dict[str, torch.Tensor]:
    """Return the tiny ESRGAN's weights under ``layout``'s names."""
    state = build_tiny_esrgan(shape, seed=seed).state_dict()
    return {in_layout(key, layout, shape): value.contiguous() for key, value in state.items()}


def save_state(path: Path, state: dict[str, torch.Tensor]) -> Path:
    """Save ``state`` at ``path``: pickled by torch for ``.pth``, else as safetensors."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".pth":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    return path


@dataclass(frozen=True)
class TinyUpscaler:
    """A tiny ESRGAN file, and what built it."""

    path: Path
    shape: RrdbShape
    seed: int = 0

    def network(self) -> RRDBNet:
        """Build the saved network again, without reading the file."""
        return build_tiny_esrgan(self.shape, seed=self.seed)


@dataclass(frozen=True)
class UpscalerFiles:
    """Upscaler files on disk: good ones in each layout, and each kind a loader must refuse."""

    models: dict[str, TinyUpscaler]
    restoration: Path
    not_a_model: Path
    incomplete: Path
    garbage: Path
    truncated: Path

    @property
    def pth(self) -> Path:
        """Return the plain 2× model, as Real-ESRGAN saves it."""
        return self.models["2x-basicsr.pth"].path


def save_good_models(folder: Path) -> dict[str, TinyUpscaler]:
    """Save the same 2× weights in every layout and format, a 4× and Real-ESRGAN's x2plus."""
    models: dict[str, TinyUpscaler] = {}
    flat: list[tuple[str, RrdbShape, Layout]] = [
        ("2x-basicsr.safetensors", TWO_X, "basicsr"),
        ("2x-old-esrgan.pth", TWO_X, "old-esrgan"),
        ("2x-old-esrgan.safetensors", TWO_X, "old-esrgan"),
        ("2x-sequential.pth", TWO_X, "sequential"),
        ("4x-sequential.safetensors", FOUR_X, "sequential"),
    ]
    for name, shape, layout in flat:
        save_state(folder / name, layout_state(shape, layout))
        models[name] = TinyUpscaler(folder / name, shape)
    # BasicSR's own files nest the weights; the EMA ones are those to use, not the others.
    for name, shape in [("2x-basicsr.pth", TWO_X), ("2x-unshuffle-basicsr.pth", TWO_X_UNSHUFFLED)]:
        nested = {
            "params_ema": layout_state(shape, "basicsr"),
            "params": layout_state(shape, "basicsr", seed=1),
        }
        torch.save(nested, folder / name)
        models[name] = TinyUpscaler(folder / name, shape)
    return models


@pytest.fixture(scope="session")
def upscaler_files(tmp_path_factory: pytest.TempPathFactory) -> UpscalerFiles:
    """Save the tiny ESRGANs, a 1× one, a LoRA, an incomplete, a garbage and a cut file."""
    folder = tmp_path_factory.mktemp("upscalers")
    models = save_good_models(folder)
    not_a_model = save_state(
        folder / "lora.safetensors", {"lora_unet_down.lora_down.weight": torch.ones(4, 8)}
    )
    incomplete = layout_state(TWO_X, "basicsr")
    del incomplete["conv_hr.weight"]
    garbage = folder / "garbage.pth"
    garbage.write_bytes(b"PK\x03\x04 this is no zip, let alone a model")
    truncated = folder / "truncated.pth"
    whole = models["2x-basicsr.pth"].path.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])  # a download that stopped half-way
    return UpscalerFiles(
        models=models,
        restoration=save_state(folder / "1x-sequential.pth", layout_state(ONE_X, "sequential")),
        not_a_model=not_a_model,
        incomplete=save_state(folder / "incomplete.safetensors", incomplete),
        garbage=garbage,
        truncated=truncated,
    )
