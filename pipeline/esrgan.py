"""The ESRGAN generator (RRDBNet), and reading its weights in the layouts owners download.

Easel holds this network itself rather than using spandrel, because spandrel requires
torchvision and the registry has no CPU build of torchvision for the torch Easel runs on. The
ESRGAN family is the one owners mostly use for upscales (ESRGAN, BSRGAN, Real-ESRGAN,
4x-UltraSharp and the community models trained from them), and its generator is small.

The same generator is saved under three key layouts, all read here:

- Real-ESRGAN / BasicSR (``conv_first``, ``body.N.rdb1.conv1``, ``conv_body``, ``conv_up1``,
  ``conv_hr``, ``conv_last``), often nested under ``params_ema`` or ``params``; its 2× and 1×
  models pixel-unshuffle their input (by 2 and 4) in front of a 4× body;
- the old ESRGAN one (``RRDB_trunk.N.RDB1.conv1``, ``trunk_conv``, ``upconv1``, ``HRconv``);
- the original sequential one (``model.0``, ``model.1.sub.N.RDB1.conv1.0``, then one
  ``model.K`` per upsampling convolution, the HR convolution and the last one).

Each is renamed to the first, which is this module's own, and every size is read from the
weights' shapes and keys, so a file either loads exactly or is refused: a key no rule renames,
or a weight of an unexpected shape, raises :class:`UnknownWeightsError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F  # noqa: N812 - the name every torch reader knows
from safetensors.torch import load_file
from torch import Tensor, nn

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

LEAKY_SLOPE = 0.2
"""The negative slope of every activation, as ESRGAN was trained with."""
RESIDUAL_SCALE = 0.2
"""How much of each dense block's output is added to its input; keeps the deep trunk stable."""

RenameRules = tuple[tuple[str, str], ...]
"""Pairs of a key pattern (matched whole) and its name in the Real-ESRGAN layout."""

_BASICSR_RULES: RenameRules = (
    (r"(conv_first|conv_body|conv_up\d+|conv_hr|conv_last)\.(weight|bias)", r"\1.\2"),
    (r"body\.(\d+)\.rdb([123])\.conv([1-5])\.(weight|bias)", r"body.\1.rdb\2.conv\3.\4"),
)
_OLD_ESRGAN_RULES: RenameRules = (
    (r"(conv_first|conv_last)\.(weight|bias)", r"\1.\2"),
    # BSRGAN and RealSR saved plain convolutions; a few conversions kept the ``.0`` of a block.
    (
        r"RRDB_trunk\.(\d+)\.RDB([123])\.conv([1-5])(?:\.0)?\.(weight|bias)",
        r"body.\1.rdb\2.conv\3.\4",
    ),
    (r"trunk_conv\.(weight|bias)", r"conv_body.\1"),
    (r"upconv(\d+)\.(weight|bias)", r"conv_up\1.\2"),
    (r"HRconv\.(weight|bias)", r"conv_hr.\1"),
)


class UnknownWeightsError(ValueError):
    """The weights are no ESRGAN generator in a layout this module reads; says what is off."""


@dataclass(frozen=True)
class RrdbShape:
    """The sizes of an RRDBNet, all of which a file's weights determine."""

    features: int
    blocks: int
    growth: int
    image_channels: int
    out_channels: int
    upsamplings: int
    """How many nearest-neighbour ×2 steps the body takes (2 for a 4× model)."""
    unshuffle: int = 1
    """The pixel-unshuffle factor in front of the body (Real-ESRGAN's 2× is 2, its 1× is 4)."""

    @property
    def scale(self) -> int:
        """Return how many times larger, each side, the network makes an image."""
        return int(2**self.upsamplings) // self.unshuffle


class DenseBlock(nn.Module):
    """Five convolutions, each fed every earlier output: ESRGAN's residual dense block."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, growth, 3, 1, 1)
        self.conv2 = nn.Conv2d(features + growth, growth, 3, 1, 1)
        self.conv3 = nn.Conv2d(features + 2 * growth, growth, 3, 1, 1)
        self.conv4 = nn.Conv2d(features + 3 * growth, growth, 3, 1, 1)
        self.conv5 = nn.Conv2d(features + 4 * growth, features, 3, 1, 1)

    def forward(self, features: Tensor) -> Tensor:
        """Return ``features`` plus a fifth of what the dense convolutions draw from them."""
        seen = [features]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            seen.append(F.leaky_relu(conv(torch.cat(seen, 1)), LEAKY_SLOPE))
        drawn: Tensor = self.conv5(torch.cat(seen, 1))
        return drawn * RESIDUAL_SCALE + features


class RrdBlock(nn.Module):
    """Three dense blocks inside one more residual: ESRGAN's residual-in-residual block."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = DenseBlock(features, growth)
        self.rdb2 = DenseBlock(features, growth)
        self.rdb3 = DenseBlock(features, growth)

    def forward(self, features: Tensor) -> Tensor:
        """Return ``features`` plus a fifth of what the three dense blocks make of them."""
        drawn: Tensor = self.rdb3(self.rdb2(self.rdb1(features)))
        return drawn * RESIDUAL_SCALE + features


class RRDBNet(nn.Module):
    """The ESRGAN generator; its state dict uses the Real-ESRGAN (BasicSR) key layout."""

    def __init__(self, shape: RrdbShape) -> None:
        super().__init__()
        self.shape = shape
        features = shape.features
        body_channels = shape.image_channels * shape.unshuffle**2
        self.conv_first = nn.Conv2d(body_channels, features, 3, 1, 1)
        self.body = nn.Sequential(*(RrdBlock(features, shape.growth) for _ in range(shape.blocks)))
        self.conv_body = nn.Conv2d(features, features, 3, 1, 1)
        for index in range(1, shape.upsamplings + 1):
            self.add_module(f"conv_up{index}", nn.Conv2d(features, features, 3, 1, 1))
        self._upsamplers = [
            self.get_submodule(f"conv_up{index}") for index in range(1, shape.upsamplings + 1)
        ]
        self.conv_hr = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_last = nn.Conv2d(features, shape.out_channels, 3, 1, 1)

    def forward(self, image: Tensor) -> Tensor:
        """Enlarge a batch of images (N, C, H, W) in [0, 1] by the shape's scale."""
        height, width = image.shape[-2:]
        features: Tensor = self.conv_first(self._unshuffled(image))
        features = features + self.conv_body(self.body(features))
        for conv in self._upsamplers:
            upsampled = F.interpolate(features, scale_factor=2.0, mode="nearest")
            features = F.leaky_relu(conv(upsampled), LEAKY_SLOPE)
        drawn: Tensor = self.conv_last(F.leaky_relu(self.conv_hr(features), LEAKY_SLOPE))
        scale = self.shape.scale
        # The padding added for the unshuffle is drawn too; cut it off.
        return drawn[..., : height * scale, : width * scale]

    def _unshuffled(self, image: Tensor) -> Tensor:
        """Fold ``image`` into the body's channels, padding it to a multiple of the factor."""
        factor = self.shape.unshuffle
        if factor == 1:
            return image
        bottom, right = (-image.shape[-2]) % factor, (-image.shape[-1]) % factor
        if bottom or right:  # replicate, as reflect fails on a one-pixel-wide tile
            image = F.pad(image, (0, right, 0, bottom), mode="replicate")
        return F.pixel_unshuffle(image, factor)


def read_weights(path: Path) -> dict[str, Tensor]:
    """Read the tensors of ``path``: safetensors by suffix, else a weights-only torch pickle.

    BasicSR nests a model's weights under ``params_ema`` (kept in preference, it is the better
    of the two) or ``params``; either is unwrapped. Errors of the readers propagate.
    """
    loaded: object
    if path.suffix.lower() == ".safetensors":
        loaded = load_file(str(path), device="cpu")
    else:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    for nest in ("params_ema", "params"):
        if isinstance(loaded, dict) and isinstance(loaded.get(nest), dict):
            loaded = loaded[nest]
            break
    if not isinstance(loaded, dict) or not all(
        isinstance(key, str) and isinstance(value, Tensor) for key, value in loaded.items()
    ):
        raise UnknownWeightsError("it holds no named tensors (a state dict)")
    return loaded


def load_esrgan(state: Mapping[str, Tensor]) -> RRDBNet:
    """Build, in eval mode, the RRDBNet whose weights ``state`` holds in any of the layouts."""
    renamed = _renamed(state, _rules_for(state))
    network = RRDBNet(_shape_of(renamed))
    try:
        network.load_state_dict(renamed, strict=True)
    except RuntimeError as error:  # a missing or extra layer, or a weight of another size
        last_line = str(error).strip().splitlines()[-1].strip().rstrip(".")
        raise UnknownWeightsError(f"its weights do not fit an ESRGAN: {last_line}") from error
    return network.eval()


def _rules_for(state: Mapping[str, Tensor]) -> RenameRules:
    """Return the renaming rules of the layout ``state`` is in, told by its first dense block."""
    if "body.0.rdb1.conv1.weight" in state:
        return _BASICSR_RULES
    if {"RRDB_trunk.0.RDB1.conv1.weight", "RRDB_trunk.0.RDB1.conv1.0.weight"} & state.keys():
        return _OLD_ESRGAN_RULES
    if "model.1.sub.0.RDB1.conv1.0.weight" in state:
        return _sequential_rules(state)
    raise UnknownWeightsError(
        "its keys are in none of the ESRGAN layouts (Real-ESRGAN's body.0.rdb1, old ESRGAN's "
        "RRDB_trunk.0.RDB1, or the original model.1.sub.0.RDB1)"
    )


def _sequential_rules(state: Mapping[str, Tensor]) -> RenameRules:
    """Return the rules of the original layout, numbered by where each layer sits in it.

    ``model.0`` is the first convolution and ``model.1.sub`` the trunk, whose last member is
    its convolution; every later convolution that has weights is, in order, an upsampling one
    (the upsample and activation layers between them hold none), then the HR one, the last one.
    """
    top = sorted(_indices(state, r"model\.(\d+)\.weight"))
    trunk = _indices(state, r"model\.1\.sub\.(\d+)\.weight")
    if len(top) < 3 or top[0] != 0 or not trunk:
        raise UnknownWeightsError("its model.N layers are not those of an ESRGAN")
    names = {top[-2]: "conv_hr", top[-1]: "conv_last", 0: "conv_first"}
    names |= {index: f"conv_up{number}" for number, index in enumerate(top[1:-2], start=1)}
    return (
        (
            r"model\.1\.sub\.(\d+)\.RDB([123])\.conv([1-5])\.0\.(weight|bias)",
            r"body.\1.rdb\2.conv\3.\4",
        ),
        (rf"model\.1\.sub\.{max(trunk)}\.(weight|bias)", r"conv_body.\1"),
        *((rf"model\.{index}\.(weight|bias)", rf"{name}.\1") for index, name in names.items()),
    )


def _indices(state: Mapping[str, Tensor], pattern: str) -> set[int]:
    """Return the numbers that ``pattern``'s one group captures across the keys of ``state``."""
    return {int(match[1]) for key in state if (match := re.fullmatch(pattern, key))}


def _renamed(state: Mapping[str, Tensor], rules: Sequence[tuple[str, str]]) -> dict[str, Tensor]:
    """Return ``state`` under the Real-ESRGAN names; refuse a key that no rule renames."""
    renamed = {}
    for key, value in state.items():
        for pattern, name in rules:
            if match := re.fullmatch(pattern, key):
                renamed[match.expand(name)] = value
                break
        else:
            raise UnknownWeightsError(f"its key {key!r} is no part of an ESRGAN")
    return renamed


def _shape_of(state: Mapping[str, Tensor]) -> RrdbShape:
    """Read every size of the network from the shapes and keys of its (renamed) weights."""
    try:
        first, dense = state["conv_first.weight"], state["body.0.rdb1.conv1.weight"]
        out_channels = state["conv_last.weight"].shape[0]
    except KeyError as error:
        raise UnknownWeightsError(f"it lacks the layer {error.args[0]}") from error
    body_channels = first.shape[1]
    # Real-ESRGAN folds 2×2 or 4×4 pixels into the channels: 4 or 16 times the output's.
    unshuffle = {4: 2, 16: 4}.get(body_channels // out_channels, 1)
    if body_channels != out_channels * unshuffle**2:
        unshuffle = 1
    upsamplings = len(_indices(state, r"conv_up(\d+)\.weight"))
    if 2**upsamplings % unshuffle:
        raise UnknownWeightsError("its unshuffle and its upsamplings give no whole scale")
    return RrdbShape(
        features=first.shape[0],
        blocks=len(_indices(state, r"body\.(\d+)\.rdb1\.conv1\.weight")),
        growth=dense.shape[0],
        image_channels=body_channels // unshuffle**2,
        out_channels=out_channels,
        upsamplings=upsamplings,
        unshuffle=unshuffle,
    )
