"""Load a model of any supported family from a hub id, a diffusers folder or a single file.

The family is read from the files first (:mod:`pipeline.families.detect`). One set of weights
serves text-to-image, image-to-image and inpainting: the other pipelines are made with
``from_pipe``, which shares every module instead of loading a second copy. Device, dtype,
attention and the memory switches for small GPUs are applied here, once, at start-up.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from pipeline.errors import ModelLoadError
from pipeline.families import family_named
from pipeline.families.detect import read_traits
from pipeline.quantize import quantize_weights

if TYPE_CHECKING:
    from pipeline.config import ModelSettings
    from pipeline.families.base import ModelFamily, ModelTraits

logger = logging.getLogger(__name__)

_EXAMPLE_CONFIGS = {
    "sd": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "sdxl": "stabilityai/stable-diffusion-xl-base-1.0",
    "flux": "black-forest-labs/FLUX.1-schnell",
}
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


@dataclass
class LoadedModel:
    """The loaded pipelines and where they run; all three share the same modules."""

    txt2img: Any
    img2img: Any
    inpaint: Any
    family: ModelFamily
    traits: ModelTraits
    device: torch.device
    dtype: torch.dtype
    name: str
    load_seconds: float

    @property
    def native_size(self) -> tuple[int, int]:
        """Return the (width, height) the model was trained at, from its own modules."""
        return self.family.native_size(self.txt2img)

    @property
    def execution_device(self) -> torch.device:
        """Return the device the modules compute on (differs from ``device`` under offload)."""
        device: torch.device = self.txt2img._execution_device
        return device


def resolve_device(name: str) -> torch.device:
    """Turn ``auto|cpu|mps|cuda|cuda:N`` into a device that exists on this machine."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"model.device is {name!r} but no CUDA GPU is available here.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ModelLoadError(f"model.device is {name!r} but there is no GPU {device.index}.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError("model.device is 'mps' but Apple's Metal backend is not available.")
    return device


def resolve_dtype(
    name: str, device: torch.device, *, cpu_bfloat16: bool | None = None
) -> torch.dtype:
    """Pick the compute dtype: half precision on GPUs and on CPUs built for it, else float32.

    On a CPU with bfloat16 arithmetic in hardware (Intel AMX or AVX-512 BF16), oneDNN runs
    the model ~1.3x faster one job at a time and ~1.7x faster in big batches, and the
    built-in model's evaluation scores do not change; elsewhere bfloat16 is emulated and
    slow. ``cpu_bfloat16`` overrides the hardware check (for tests).
    """
    if name != "auto":
        return _DTYPES[name]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    native = cpu_has_native_bfloat16() if cpu_bfloat16 is None else cpu_bfloat16
    return torch.bfloat16 if native else torch.float32


def cpu_has_native_bfloat16() -> bool:
    """Tell whether this CPU computes in bfloat16 in hardware (AMX tiles or AVX-512 BF16)."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    try:
        return any(bool(getattr(torch.cpu, check, lambda: False)()) for check in checks)
    except RuntimeError:  # a torch build without these probes
        return False


def default_cpu_threads() -> int:
    """Leave one core to the event loop so generation never starves the bot."""
    return max(1, (os.cpu_count() or 2) - 1)


def load_model(settings: ModelSettings, cache_dir: Path) -> LoadedModel:
    """Load the configured model of any supported family and apply every setting."""
    started = time.perf_counter()
    _quiet_library_output()
    torch.set_num_threads(settings.cpu_threads or default_cpu_threads())
    traits = read_traits(settings, cache_dir)
    family = family_named(traits.family)
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    try:
        txt2img = family.load(settings, dtype, cache_dir)
    except ModelLoadError:
        raise  # the family said what is wrong already
    except Exception as error:
        raise ModelLoadError(_explain_load_failure(settings, family, error)) from error
    family.check_loaded(txt2img, settings.path)
    img2img, inpaint = family.derive(txt2img, dtype)
    if settings.inpaint:
        inpaint = _dedicated_inpaint(settings, family, txt2img, dtype, cache_dir)
    for pipe in (txt2img, img2img, inpaint):
        pipe.set_progress_bar_config(disable=True)
    _place(txt2img, settings, device)
    if settings.inpaint:
        _place(inpaint, settings, device)
    quantize_weights(family.denoiser(txt2img), settings.quantize, device)
    _apply_speed_settings(txt2img, family, settings)
    logger.info("loaded %s (%s) on %s as %s", settings.path, family.label, device, dtype)
    return LoadedModel(
        txt2img=txt2img,
        img2img=img2img,
        inpaint=inpaint,
        family=family,
        traits=traits,
        device=device,
        dtype=dtype,
        name=settings.path,
        load_seconds=time.perf_counter() - started,
    )


def _dedicated_inpaint(
    settings: ModelSettings, family: ModelFamily, txt2img: Any, dtype: torch.dtype, cache_dir: Path
) -> Any:
    """Return an inpainting pipeline whose UNet comes from the model's ``inpaint:`` entry.

    Only the UNet is loaded: the text encoders and VAE are the main model's, shared, so the
    prompts are encoded once whichever pipeline draws. LoRAs apply to the main UNet only.
    """
    from diffusers import AutoPipelineForInpainting, UNet2DConditionModel  # noqa: PLC0415

    assert settings.inpaint is not None
    if family.name == "flux":
        raise ModelLoadError(
            f"inpaint: {settings.inpaint}: a dedicated inpainting model is for SD and SDXL "
            "models; FLUX models inpaint with their own weights."
        )
    try:
        unet = UNet2DConditionModel.from_pretrained(
            settings.inpaint,
            subfolder="unet",
            torch_dtype=dtype,
            cache_dir=str(cache_dir),
            local_files_only=Path(settings.inpaint).is_absolute(),
        )
    except (OSError, ValueError) as error:
        reason = str(error).splitlines()[0][:300]
        raise ModelLoadError(f"could not load inpaint: {settings.inpaint}: {reason}") from error
    return AutoPipelineForInpainting.from_pipe(txt2img, unet=unet, dtype=dtype)


def _explain_load_failure(settings: ModelSettings, family: ModelFamily, error: Exception) -> str:
    """Say what failed to load and what the operator can change, in one message."""
    reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    if settings.source == "file" and settings.config is None:
        hint = (
            "A single-file checkpoint needs its architecture's config files: set the model's "
            f"config: key to a diffusers folder or hub id of the same architecture (this file is "
            f"{family.label}; e.g. {_EXAMPLE_CONFIGS[family.name]}), or allow network access "
            "once."
        )
    elif settings.source == "hub":
        hint = (
            "path is not a local folder, so it was looked up as a Hugging Face hub id; "
            "check the name and the network, or point path at a local folder."
        )
    else:
        hint = f"Check that path holds a complete diffusers {family.label} model."
    return f"could not load the model {settings.path}: {reason}\n{hint}"


def _place(pipe: Any, settings: ModelSettings, device: torch.device) -> None:
    """Move modules to the device, or install CPU offload hooks for GPUs short on memory."""
    if settings.cpu_offload == "none" or device.type == "cpu":
        pipe.to(device)
    elif settings.cpu_offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)


def _apply_speed_settings(pipe: Any, family: ModelFamily, settings: ModelSettings) -> None:
    """Apply attention, memory-format, slicing and tiling switches (compile: the engine's)."""
    denoiser: Any = family.denoiser(pipe)
    family.apply_attention(pipe, settings.attention)
    if settings.channels_last:
        denoiser.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
    if settings.attention_slicing:
        pipe.enable_attention_slicing()
    if settings.vae_tiling:
        pipe.vae.enable_tiling()


def _quiet_library_output() -> None:
    """Keep diffusers' and transformers' progress bars and notices out of our output."""
    from diffusers.utils import logging as diffusers_logging  # noqa: PLC0415
    from transformers.utils import logging as transformers_logging  # noqa: PLC0415

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
