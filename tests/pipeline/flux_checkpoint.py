"""Save a diffusers FLUX transformer as one file in Black Forest Labs' original layout.

FLUX fine-tunes ship as a single ``.safetensors`` holding only the transformer, named as in
BFL's reference code. diffusers converts that layout on load but ships nothing for the other
direction, so the tiny test transformer is written key by key, undoing what
``convert_flux_transformer_checkpoint_to_diffusers`` does:

- double blocks fuse q, k and v of each stream into one ``img_attn.qkv`` / ``txt_attn.qkv``;
- single blocks fuse q, k, v and the MLP's input projection into ``linear1``;
- qk-norm weights are ``*.scale``;
- the final layer's modulation holds (shift, scale) where diffusers holds (scale, shift).

An optional ``prefix`` (``model.diffusion_model.``) writes the layout some trainers save.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import save_file

if TYPE_CHECKING:
    from pathlib import Path

# Whole modules, renamed and otherwise unchanged: diffusers' name -> BFL's name.
_TOP = {
    "time_text_embed.timestep_embedder.linear_1": "time_in.in_layer",
    "time_text_embed.timestep_embedder.linear_2": "time_in.out_layer",
    "time_text_embed.text_embedder.linear_1": "vector_in.in_layer",
    "time_text_embed.text_embedder.linear_2": "vector_in.out_layer",
    "time_text_embed.guidance_embedder.linear_1": "guidance_in.in_layer",
    "time_text_embed.guidance_embedder.linear_2": "guidance_in.out_layer",
    "context_embedder": "txt_in",
    "x_embedder": "img_in",
    "proj_out": "final_layer.linear",
}
_DOUBLE = {
    "norm1.linear": "img_mod.lin",
    "norm1_context.linear": "txt_mod.lin",
    "attn.norm_q": "img_attn.norm.query_norm",
    "attn.norm_k": "img_attn.norm.key_norm",
    "attn.norm_added_q": "txt_attn.norm.query_norm",
    "attn.norm_added_k": "txt_attn.norm.key_norm",
    "ff.net.0.proj": "img_mlp.0",
    "ff.net.2": "img_mlp.2",
    "ff_context.net.0.proj": "txt_mlp.0",
    "ff_context.net.2": "txt_mlp.2",
    "attn.to_out.0": "img_attn.proj",
    "attn.to_add_out": "txt_attn.proj",
}
_SINGLE = {
    "norm.linear": "modulation.lin",
    "attn.norm_q": "norm.query_norm",
    "attn.norm_k": "norm.key_norm",
    "proj_out": "linear2",
}
# Fused projections: BFL's module <- diffusers' modules, concatenated in this order.
_DOUBLE_FUSED = {
    "img_attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "txt_attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
}
_SINGLE_FUSED = {"linear1": ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")}


def _param(name: str, original_module: str) -> str:
    """Name a parameter as BFL does: RMSNorm weights are ``scale``."""
    return "scale" if original_module.endswith("_norm") and name == "weight" else name


def _block(
    state: dict[str, torch.Tensor],
    source: str,
    target: str,
    renames: dict[str, str],
    fused: dict[str, tuple[str, ...]],
) -> dict[str, torch.Tensor]:
    """Return one transformer block's tensors under BFL's names, fusing what BFL fuses."""
    tensors: dict[str, torch.Tensor] = {}
    for original, parts in fused.items():
        for name in ("weight", "bias"):
            pieces = [state.pop(f"{source}{part}.{name}") for part in parts]
            tensors[f"{target}{original}.{name}"] = torch.cat(pieces, dim=0)
    for key in [key for key in state if key.startswith(source)]:
        module, name = key[len(source) :].rsplit(".", 1)
        original = renames[module]
        tensors[f"{target}{original}.{_param(name, original)}"] = state.pop(key)
    return tensors


def _swap_halves(tensor: torch.Tensor) -> torch.Tensor:
    """Swap the two halves of a modulation: diffusers' (scale, shift) is BFL's (shift, scale)."""
    first, second = tensor.chunk(2, dim=0)
    return torch.cat([second, first], dim=0)


def flux_transformer_tensors(transformer: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Return a diffusers ``FluxTransformer2DModel``'s weights in BFL's original layout."""
    state = {key: value.detach().clone() for key, value in transformer.state_dict().items()}
    config = transformer.config
    tensors: dict[str, torch.Tensor] = {}
    for index in range(config.num_layers):
        source = f"transformer_blocks.{index}."
        tensors |= _block(state, source, f"double_blocks.{index}.", _DOUBLE, _DOUBLE_FUSED)
    for index in range(config.num_single_layers):
        source = f"single_transformer_blocks.{index}."
        tensors |= _block(state, source, f"single_blocks.{index}.", _SINGLE, _SINGLE_FUSED)
    for name in ("weight", "bias"):
        modulation = state.pop(f"norm_out.linear.{name}")
        tensors[f"final_layer.adaLN_modulation.1.{name}"] = _swap_halves(modulation)
    for key in list(state):
        module, name = key.rsplit(".", 1)
        tensors[f"{_TOP[module]}.{name}"] = state.pop(key)
    return {prefix + key: value.contiguous() for key, value in tensors.items()}


def save_flux_transformer_file(transformer: Any, path: Path, prefix: str = "") -> Path:
    """Write the transformer alone as an original-layout ``.safetensors`` and return its path."""
    save_file(flux_transformer_tensors(transformer, prefix), str(path))
    return path
