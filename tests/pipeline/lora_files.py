"""Build tiny random LoRA files offline, in both layouts owners meet (diffusers/PEFT and kohya).

A LoRA is made by attaching a PEFT adapter with random (not zero) up-projections to a fresh
copy of a model's denoiser and text encoder, then saving its state in the chosen layout, so
loading it changes what the model draws.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import torch
from diffusers import StableDiffusionPipeline
from diffusers.utils.state_dict_utils import convert_state_dict_to_diffusers
from peft import LoraConfig, inject_adapter_in_model
from peft.utils import get_peft_model_state_dict
from safetensors.torch import save_file

if TYPE_CHECKING:
    from pathlib import Path

Layout = Literal["diffusers", "kohya"]
ATTENTION = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_ATTENTION = ["q_proj", "k_proj", "v_proj", "out_proj"]


def _random_adapter(module: Any, targets: list[str], seed: int, scale: float) -> dict[str, Any]:
    """Attach a random LoRA to ``module`` and return its PEFT state.

    The adapter stays attached under a name of its own, so call this on a fresh copy of a
    model (:func:`load_sd_pipeline`), never on a shared one.
    """
    torch.manual_seed(seed)
    name = f"made{seed}"
    config = LoraConfig(r=4, lora_alpha=4, target_modules=targets, init_lora_weights=False)
    with warnings.catch_warnings():  # PEFT warns that a model gets a second adapter
        warnings.simplefilter("ignore", UserWarning)
        inject_adapter_in_model(config, module, adapter_name=name)
    state = get_peft_model_state_dict(module, adapter_name=name)
    return {key: value * scale for key, value in state.items()}


def save_random_lora(
    pipe: Any,
    path: Path,
    *,
    layout: Layout = "diffusers",
    seed: int = 0,
    scale: float = 1.0,
    text_encoder: bool = True,
) -> Path:
    """Save a random LoRA for ``pipe``'s UNet (and first text encoder) at ``path``."""
    unet = _random_adapter(pipe.unet, ATTENTION, seed, scale)
    text = (
        _random_adapter(pipe.text_encoder, TEXT_ATTENTION, seed + 1, scale) if text_encoder else {}
    )
    text_2 = {}
    if text_encoder and getattr(pipe, "text_encoder_2", None) is not None:
        text_2 = _random_adapter(pipe.text_encoder_2, TEXT_ATTENTION, seed + 2, scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout == "diffusers":
        state = {f"unet.{k}": v for k, v in convert_state_dict_to_diffusers(unet).items()}
        for prefix, part in (("text_encoder", text), ("text_encoder_2", text_2)):
            converted = convert_state_dict_to_diffusers(part) if part else {}
            state |= {f"{prefix}.{k}": v for k, v in converted.items()}
    else:
        sdxl = bool(text_2)
        prefixes = ("lora_unet", "lora_te1" if sdxl else "lora_te", "lora_te2")
        state = {}
        for prefix, part in zip(prefixes, (unet, text, text_2), strict=True):
            state |= _kohya(prefix, part, text_model=prefix != "lora_unet")
    save_file({key: value.contiguous() for key, value in state.items()}, str(path))
    return path


def _kohya(prefix: str, peft_state: dict[str, Any], *, text_model: bool) -> dict[str, Any]:
    """Lay PEFT keys out as kohya's sd-scripts writes them (what Civitai serves).

    ``down_blocks.1.attentions.0….to_q.lora_A.weight`` becomes
    ``lora_unet_down_blocks_1_attentions_0_…_to_q.lora_down.weight``, with an ``alpha`` per
    module equal to the rank (a scale of 1), and text encoders keep CLIP's ``text_model``.
    """
    state: dict[str, Any] = {}
    for key, value in peft_state.items():
        module, _, kind = key.rpartition(".lora_")
        if text_model and not module.startswith("text_model."):
            module = f"text_model.{module}"
        name = f"{prefix}_{module.replace('.', '_')}"
        direction = "lora_down" if kind.startswith("A") else "lora_up"
        state[f"{name}.{direction}.weight"] = value
        if direction == "lora_down":
            state[f"{name}.alpha"] = torch.tensor(float(value.shape[0]))
    return state


def save_random_flux_lora(pipe: Any, path: Path, *, seed: int = 0, scale: float = 1.0) -> Path:
    """Save a random diffusers-layout LoRA for a FLUX pipeline's transformer at ``path``."""
    state = _random_adapter(pipe.transformer, ["to_q", "to_k", "to_v"], seed, scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    converted = {f"transformer.{k}": v for k, v in convert_state_dict_to_diffusers(state).items()}
    save_file({key: value.contiguous() for key, value in converted.items()}, str(path))
    return path


def load_sd_pipeline(folder: Path) -> StableDiffusionPipeline:
    """Load a fresh copy of an SD folder to make LoRAs from (never a shared test engine's)."""
    return StableDiffusionPipeline.from_pretrained(str(folder), local_files_only=True)
