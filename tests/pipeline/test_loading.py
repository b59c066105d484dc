"""Loading models: folders, single-file checkpoints, hub ids, devices and dtypes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import torch

from pipeline.config import PipelineConfig
from pipeline.engine import Engine
from pipeline.errors import ModelLoadError
from pipeline.loading import default_cpu_threads, resolve_device, resolve_dtype
from tests.pipeline.ldm_checkpoint import save_ldm_checkpoint
from tests.pipeline.tiny_model import build_tiny_pipeline

if TYPE_CHECKING:
    from pathlib import Path


def engine_for(tmp_path: Path, **model: object) -> Engine:
    """Load an engine with the given model settings on the CPU."""
    config = PipelineConfig.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "model": {"device": "cpu", "cpu_threads": 1, **model},
            "generation": {"steps": 3, "sampler": "Euler"},
        }
    )
    return Engine.from_config(config)


def test_single_file_checkpoint_draws_like_its_folder(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Load an original-layout .safetensors file and draw the same pixels as the folder."""
    checkpoint = save_ldm_checkpoint(build_tiny_pipeline(), tmp_path / "tiny.safetensors")
    from_file = engine_for(tmp_path, path=str(checkpoint), config=str(tiny_model_dir))
    from_folder = engine_for(tmp_path, path=str(tiny_model_dir))
    request = from_folder.parse("a red circle --seed 4")
    first = from_file.generate(request).images[0].tobytes()
    assert first == from_folder.generate(request).images[0].tobytes()


def test_single_file_without_config_offline_says_how_to_fix_it(tmp_path: Path) -> None:
    """Explain that a single file needs model.config when the hub is out of reach."""
    checkpoint = save_ldm_checkpoint(build_tiny_pipeline(), tmp_path / "tiny.safetensors")
    with pytest.raises(ModelLoadError, match=r"config: key"):
        engine_for(tmp_path, path=str(checkpoint))


def test_unreachable_hub_id_says_what_was_tried(tmp_path: Path) -> None:
    """Explain that a name that is no local folder was looked up on the hub."""
    with pytest.raises(ModelLoadError, match="hub id"):
        engine_for(tmp_path, path="nobody/no-such-model")


def test_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    """Refuse a folder that holds no diffusers model, saying what it needs."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="complete diffusers"):
        engine_for(tmp_path, path=str(tmp_path / "empty"))


def test_cuda_device_without_a_gpu_is_refused() -> None:
    """Refuse cuda when no GPU is present, naming the setting."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelLoadError, match=r"model\.device"):
        resolve_device("cuda:0")


def test_auto_device_falls_back_to_the_cpu() -> None:
    """Choose the CPU when no accelerator is present."""
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has an accelerator")
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize(
    ("name", "device", "expected"),
    [
        ("auto", "mps", torch.float16),
        ("bfloat16", "cpu", torch.bfloat16),
        ("float16", "cuda", torch.float16),
    ],
)
def test_dtype_resolution(name: str, device: str, expected: torch.dtype) -> None:
    """Use the dtype asked for, and half precision on accelerators when asked for auto."""
    assert resolve_dtype(name, torch.device(device)) == expected


@pytest.mark.parametrize(("native", "expected"), [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_uses_bfloat16_only_on_cpus_built_for_it(native: bool, expected: torch.dtype) -> None:
    """Compute in bfloat16 where the CPU has it in hardware, in float32 where it is emulated."""
    assert resolve_dtype("auto", torch.device("cpu"), cpu_bfloat16=native) == expected


def test_default_threads_leave_a_core_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep one core for the event loop."""
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert default_cpu_threads() == 7
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert default_cpu_threads() == 1
