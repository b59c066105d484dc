"""Tell a model's family from its files, before any weight is loaded.

A diffusers folder (or hub id) names its pipeline class in ``model_index.json``; a single
checkpoint in the original layout is recognised by its tensor names, which are read from the
file's header without loading the tensors. Anything else is refused with one message naming
what was found and the families Easel runs. The same files give the native size without
loading the model, so prompts can be parsed for a model that is not loaded yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ModelLoadError
from pipeline.families import FAMILIES, supported_families
from pipeline.families.base import ModelTraits

if TYPE_CHECKING:
    from pipeline.config import ModelSettings

# Architectures people will try, by their pipeline class's prefix, for a helpful refusal.
_KNOWN_OTHERS = {
    "StableDiffusion3": "Stable Diffusion 3",
    "PixArt": "PixArt",
    "Sana": "Sana",
    "Kandinsky": "Kandinsky",
    "Wuerstchen": "Würstchen",
    "StableCascade": "Stable Cascade",
    "AuraFlow": "AuraFlow",
    "Lumina": "Lumina",
    "HunyuanDiT": "Hunyuan-DiT",
    "CogView": "CogView",
    "Chroma": "Chroma",
    "QwenImage": "Qwen-Image",
    "HiDream": "HiDream",
    "StableDiffusionXLImg2Img": "an SDXL refiner",
}
# Tensor-name markers of single-file checkpoints, checked in order.
_FILE_MARKERS = (
    ("model.diffusion_model.joint_blocks.", "Stable Diffusion 3"),
    ("conditioner.embedders.1.model.", "sdxl"),
    ("conditioner.embedders.0.model.", "an SDXL refiner"),
    ("double_blocks.", "flux"),
    ("model.diffusion_model.double_blocks.", "flux"),
    ("cond_stage_model.model.", "sd"),  # SD 2.x: OpenCLIP
    ("cond_stage_model.transformer.", "sd"),  # SD 1.x: CLIP
)
_DEFAULT_SIDE = {"sd": 512, "sdxl": 1024, "flux": 1024}


def read_traits(settings: ModelSettings, cache_dir: Path) -> ModelTraits:
    """Return the family and native size of the configured model, or refuse it by name."""
    if settings.source == "file":
        family = family_of_checkpoint(Path(settings.path))
        configs = _config_source(settings.config, cache_dir) if settings.config else None
        if configs is not None:
            _check_agrees(family, configs, settings)
        weights = Path(settings.path).stat().st_size
    else:
        configs = _config_source(settings.path, cache_dir)
        family = family_of_pipeline(_pipeline_class(configs), settings.path)
        weights = _folder_weights(configs)
    return _traits(family, configs, weights)


def family_of_pipeline(class_name: str, where: str) -> str:
    """Map a diffusers pipeline class name to an Easel family, or refuse it by name."""
    for family in FAMILIES.values():
        if class_name in family.pipeline_classes:
            return family.name
    found = next(
        (label for prefix, label in _KNOWN_OTHERS.items() if class_name.startswith(prefix)),
        class_name,
    )
    raise ModelLoadError(
        f"{where} is {found} ({class_name}), which Easel does not support yet. "
        f"Supported: {supported_families()}."
    )


def family_of_checkpoint(path: Path) -> str:
    """Tell a single checkpoint's family from its tensor names."""
    names = _tensor_names(path)
    for marker, found in _FILE_MARKERS:
        if any(name.startswith(marker) for name in names):
            if found in FAMILIES:
                return found
            raise ModelLoadError(
                f"{path.name} is {found}, which Easel does not support yet. "
                f"Supported: {supported_families()}."
            )
    raise ModelLoadError(
        f"{path.name} is not a checkpoint layout Easel knows (it has {len(names)} tensors, "
        f"none named like a supported model's). Supported: {supported_families()}."
    )


def _tensor_names(path: Path) -> list[str]:
    """Read the tensor names of a checkpoint without loading its tensors."""
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors import safe_open  # noqa: PLC0415 - only single files need it

            with safe_open(str(path), framework="pt") as file:
                return list(file.keys())
        import torch  # noqa: PLC0415

        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else {}
        return [str(name) for name in state]
    except Exception as error:
        raise ModelLoadError(f"cannot read the checkpoint {path}: {error}") from error


class _ConfigSource:
    """Where a model's JSON config files are read from: a local folder, or the hub."""

    def __init__(self, reference: str, cache_dir: Path) -> None:
        self.reference = reference
        self.cache_dir = cache_dir
        self.folder = Path(reference) if Path(reference).is_absolute() else None

    def read(self, name: str) -> dict[str, Any] | None:
        """Return a JSON file of the model, or None when it has none."""
        try:
            if self.folder is not None:
                path = self.folder / name
                if not path.exists():
                    return None
            else:
                from huggingface_hub import hf_hub_download  # noqa: PLC0415 - hub only

                path = Path(hf_hub_download(self.reference, name, cache_dir=self.cache_dir))
            data = json.loads(path.read_text(encoding="utf-8"))
        except Exception as error:
            if name == "model_index.json":
                reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
                hint = (
                    " It is not a local folder, so it was looked up as a Hugging Face hub id: "
                    "check the name and the network, or point path at a local folder."
                    if self.folder is None
                    else ""
                )
                raise ModelLoadError(
                    f"cannot read {name} of {self.reference}: {reason}.{hint}"
                ) from error
            return None
        return data if isinstance(data, dict) else None


def _config_source(reference: str, cache_dir: Path) -> _ConfigSource:
    """Return the config reader for a folder or hub id."""
    return _ConfigSource(reference, cache_dir)


def _pipeline_class(configs: _ConfigSource) -> str:
    """Return the pipeline class named by ``model_index.json``."""
    index = configs.read("model_index.json")
    if index is None:
        raise ModelLoadError(
            f"{configs.reference} has no model_index.json: it is not a complete diffusers "
            "pipeline folder (for a single .safetensors file, point path at the file itself)."
        )
    return str(index.get("_class_name", "an unnamed pipeline"))


def _check_agrees(family: str, configs: _ConfigSource, settings: ModelSettings) -> None:
    """Refuse a single file whose ``config:`` folder is of another family."""
    other = family_of_pipeline(_pipeline_class(configs), str(settings.config))
    if other != family:
        raise ModelLoadError(
            f"{Path(settings.path).name} is a {FAMILIES[family].label} checkpoint, but "
            f"model.config ({settings.config}) is a {FAMILIES[other].label} model: point it at "
            "a model of the same architecture."
        )


def _folder_weights(configs: _ConfigSource) -> int:
    """Sum the sizes of a local folder's weight files (0 for a hub id: unknown until loaded)."""
    if configs.folder is None:
        return 0
    return sum(
        path.stat().st_size
        for pattern in ("*/*.safetensors", "*/*.bin")
        for path in configs.folder.glob(pattern)
    )


def _traits(family: str, configs: _ConfigSource | None, weights: int) -> ModelTraits:
    """Read native size and guidance input from the config files, else the family's defaults."""
    side = _DEFAULT_SIDE[family]
    native = (side, side)
    guidance = False
    if configs is not None:
        vae = configs.read("vae/config.json") or {}
        if family == "flux":
            transformer = configs.read("transformer/config.json") or {}
            guidance = bool(transformer.get("guidance_embeds", False))
            native = _square(vae.get("sample_size"), native)
        else:
            unet = configs.read("unet/config.json") or {}
            factor = 2 ** (len(vae.get("block_out_channels", [0, 0, 0, 0])) - 1)
            sample = unet.get("sample_size")
            native = _square(sample * factor if isinstance(sample, int) else None, native)
    return ModelTraits(family, native, guidance_embedded=guidance, weights_bytes=weights)


def _square(side: object, fallback: tuple[int, int]) -> tuple[int, int]:
    """Return a square size from a config value, or the fallback."""
    return (side, side) if isinstance(side, int) and side > 0 else fallback
