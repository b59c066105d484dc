"""Save a diffusers SDXL pipeline as one original-layout (SGM) ``.safetensors`` checkpoint.

SDXL fine-tunes ship as single files in Stability's ``sgm`` layout, and diffusers ships no
converter in that direction, so the tiny test pipeline is written key by key:

- ``model.diffusion_model.*``: the UNet, named as for SD (``ldm_checkpoint.unet_key``) plus
  ``label_emb.0.0`` / ``label_emb.0.2`` for the micro-conditioning embedding;
- ``first_stage_model.*``: the VAE, as for SD;
- ``conditioner.embedders.0.transformer.text_model.*``: CLIP ViT-L, in transformers' names;
- ``conditioner.embedders.1.model.*``: OpenCLIP ViT-bigG, in OpenCLIP's own names, with q, k
  and v concatenated into ``in_proj_*`` and ``text_projection`` stored as ``x @ P`` (the
  transpose of a linear layer's weight).

diffusers reads the file as ``xl_base`` because ``resblocks.9`` of embedder 1 exists, and it
matches each text encoder to its weights by width, so the two widths must differ.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import save_file

from tests.pipeline.ldm_checkpoint import unet_key, vae_key

if TYPE_CHECKING:
    from pathlib import Path

UNET = "model.diffusion_model."
VAE = "first_stage_model."
CLIP_L = "conditioner.embedders.0.transformer."
OPEN_CLIP = "conditioner.embedders.1.model."

_ADD_EMBEDDING = {"linear_1": "label_emb.0.0", "linear_2": "label_emb.0.2"}
_OPEN_CLIP_FIXED = {
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
}
_OPEN_CLIP_LAYER = {
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
    "self_attn.out_proj": "attn.out_proj",
}
_LAYER = re.compile(r"text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)")


def sdxl_unet_key(key: str, config: Any) -> str:
    """Map a diffusers SDXL UNet key to the original layout."""
    if match := re.match(r"add_embedding\.(linear_[12])\.(.*)", key):
        return f"{_ADD_EMBEDDING[match.group(1)]}.{match.group(2)}"
    return unet_key(key, config)


def vae_tensors(vae: Any) -> dict[str, torch.Tensor]:
    """Return the VAE's weights under their original names."""
    tensors: dict[str, torch.Tensor] = {}
    for key, value in vae.state_dict().items():
        original = vae_key(key, vae.config)
        # The original VAE attention uses 1×1 convolutions where diffusers uses linear layers.
        is_linear = ".attn_1." in original and original.endswith("weight") and value.dim() == 2
        tensors[VAE + original] = value[:, :, None, None] if is_linear else value
    return tensors


def clip_l_tensors(text_encoder: Any) -> dict[str, torch.Tensor]:
    """Return text encoder 1's weights, which keep transformers' names under ``text_model.``."""
    tensors: dict[str, torch.Tensor] = {}
    for key, value in text_encoder.state_dict().items():
        # transformers 5.6+ dropped CLIPTextModel's "text_model." level; checkpoints keep it.
        inner = key if key.startswith("text_model.") else f"text_model.{key}"
        tensors[CLIP_L + inner] = value
    return tensors


def open_clip_tensors(text_encoder_2: Any) -> dict[str, torch.Tensor]:
    """Return text encoder 2's weights renamed and reshaped to OpenCLIP's layout."""
    weights = {
        key if key.startswith(("text_model.", "text_projection")) else f"text_model.{key}": value
        for key, value in text_encoder_2.state_dict().items()
    }
    tensors: dict[str, torch.Tensor] = {}
    attention: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in weights.items():
        if key in _OPEN_CLIP_FIXED:
            tensors[OPEN_CLIP + _OPEN_CLIP_FIXED[key]] = value
        elif key == "text_projection.weight":
            tensors[OPEN_CLIP + "text_projection"] = value.T
        elif match := _LAYER.fullmatch(key):
            layer, module, kind = match.groups()
            block = f"{OPEN_CLIP}transformer.resblocks.{layer}."
            if part := re.fullmatch(r"self_attn\.([qkv])_proj", module):
                attention.setdefault((block, kind), {})[part.group(1)] = value
            else:
                tensors[f"{block}{_OPEN_CLIP_LAYER[module]}.{kind}"] = value
        else:
            raise KeyError(key)
    for (block, kind), parts in attention.items():
        # OpenCLIP's nn.MultiheadAttention keeps one projection for q, k and v, in that order.
        tensors[f"{block}attn.in_proj_{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return tensors


def save_sdxl_single_file(pipe: Any, path: Path) -> Path:
    """Write the SDXL pipeline's UNet, VAE and both text encoders into one original file."""
    tensors = {
        UNET + sdxl_unet_key(key, pipe.unet.config): value
        for key, value in pipe.unet.state_dict().items()
    }
    tensors |= vae_tensors(pipe.vae)
    tensors |= clip_l_tensors(pipe.text_encoder)
    tensors |= open_clip_tensors(pipe.text_encoder_2)
    save_file({key: value.contiguous() for key, value in tensors.items()}, str(path))
    return path
