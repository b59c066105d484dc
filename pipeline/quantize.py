"""Store the denoiser's weights in 8 bits (model key ``quantize:``), through torchao.

The UNet or transformer holds most of a model's weights (FLUX.1's transformer is 24 GB in
bfloat16 of its 34), so quantizing its linear layers' weights to int8 or float8 roughly halves
what it needs, at a small cost in fidelity; activations stay in the compute dtype. torchao is
an optional extra (``pip install '.[quantize]'``); float8 needs a CUDA GPU that computes it
(compute capability 8.9: Ada, Hopper and later). Whether it also runs faster depends on the
card, so the README states only what was measured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from pipeline.errors import ModelLoadError

if TYPE_CHECKING:
    from torch import nn

FP8_CAPABILITY = (8, 9)


def quantize_weights(denoiser: nn.Module, kind: str, device: torch.device) -> None:
    """Quantize the linear layers' weights of ``denoiser`` in place (``int8`` or ``fp8``)."""
    if kind == "none":
        return
    if kind == "fp8" and not _computes_fp8(device):
        raise ModelLoadError(
            "quantize: fp8 needs a CUDA GPU with compute capability 8.9 or later (Ada, Hopper); "
            "use quantize: int8 here."
        )
    try:
        from torchao.quantization import (  # noqa: PLC0415 - an optional extra
            Float8WeightOnlyConfig,
            Int8WeightOnlyConfig,
            quantize_,
        )
    except ImportError as error:
        raise ModelLoadError(
            f"quantize: {kind} needs torchao: pip install 'easel[quantize]' (or torchao)."
        ) from error
    config = Int8WeightOnlyConfig() if kind == "int8" else Float8WeightOnlyConfig()
    quantize_(denoiser, config)


def _computes_fp8(device: torch.device) -> bool:
    """Tell whether ``device`` is a CUDA GPU with float8 arithmetic."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    return torch.cuda.get_device_capability(device) >= FP8_CAPABILITY
