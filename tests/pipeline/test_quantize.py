"""quantize: the denoiser's weights in 8 bits, loaded through the real loader on the tiny model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from pipeline.config import PipelineConfig
from pipeline.engine import Engine
from pipeline.errors import ModelLoadError
from pipeline.quantize import quantize_weights

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("torchao", reason="the quantize extra is not installed")


def quantized_engine(model_dir: Path, data_dir: Path, kind: str) -> Engine:
    """Load the tiny model with ``quantize: kind``."""
    config = PipelineConfig.model_validate(
        {
            "data_dir": str(data_dir),
            "model": {"path": str(model_dir), "device": "cpu", "cpu_threads": 1, "quantize": kind},
            "generation": {"steps": 4, "sampler": "Euler", "guidance": 5.0},
        }
    )
    return Engine.from_config(config)


def test_int8_stores_the_unets_linear_weights_in_8_bits(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Hold every linear layer's weight of the UNet as int8 after loading."""
    engine = quantized_engine(tiny_model_dir, tmp_path, "int8")
    linears = [m for m in engine.model.txt2img.unet.modules() if isinstance(m, torch.nn.Linear)]
    assert linears
    assert all("Int8" in type(layer.weight).__name__ for layer in linears)


def test_int8_draws_nearly_the_unquantized_image(
    tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Draw within a few levels of the full-precision image, for the same seed."""
    engine = quantized_engine(tiny_model_dir, tmp_path, "int8")
    request = tiny_engine.parse("a red circle --seed 3")
    full = np.asarray(tiny_engine.generate(request).images[0], np.int32)
    eight = np.asarray(engine.generate(request).images[0], np.int32)
    assert np.abs(full - eight).mean() < 8
    assert not np.array_equal(full, eight)


def test_fp8_without_a_capable_gpu_is_refused_with_the_alternative() -> None:
    """Refuse quantize: fp8 on a CPU, suggesting int8."""
    with pytest.raises(ModelLoadError, match="use quantize: int8"):
        quantize_weights(torch.nn.Linear(4, 4), "fp8", torch.device("cpu"))
