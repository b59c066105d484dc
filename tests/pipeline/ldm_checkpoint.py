"""Save a diffusers SD pipeline as one original-layout (LDM) ``.safetensors`` checkpoint.

Real users download single-file checkpoints in the original Stable Diffusion layout
(``model.diffusion_model.input_blocks...``). To test loading them offline, the tiny test
pipeline is written in that layout by renaming each diffusers key to its original name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from safetensors.torch import save_file

if TYPE_CHECKING:
    from pathlib import Path

    import torch

_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_VAE_ATTENTION = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


def _resnet(rest: str) -> str:
    """Rename a UNet resnet parameter to its original name."""
    head, _, tail = rest.partition(".")
    return f"{_UNET_RESNET[head]}.{tail}"


def unet_key(key: str, config: Any) -> str:  # noqa: PLR0911 - one return per layout rule
    """Map a diffusers UNet key to the original layout."""
    per = config.layers_per_block + 1
    fixed = {
        "conv_in.": "input_blocks.0.0.",
        "time_embedding.linear_1.": "time_embed.0.",
        "time_embedding.linear_2.": "time_embed.2.",
        "conv_norm_out.": "out.0.",
        "conv_out.": "out.2.",
    }
    for prefix, original in fixed.items():
        if key.startswith(prefix):
            return original + key.removeprefix(prefix)
    if match := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        block, kind, layer, rest = match.groups()
        index = 1 + int(block) * per + int(layer)
        return f"input_blocks.{index}." + (
            f"0.{_resnet(rest)}" if kind == "resnets" else f"1.{rest}"
        )
    if match := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
        return f"input_blocks.{(int(match.group(1)) + 1) * per}.0.op.{match.group(2)}"
    if match := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key):
        return f"middle_block.{0 if match.group(1) == '0' else 2}.{_resnet(match.group(2))}"
    if match := re.match(r"mid_block\.attentions\.0\.(.*)", key):
        return f"middle_block.1.{match.group(1)}"
    if match := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        block, kind, layer, rest = match.groups()
        index = int(block) * per + int(layer)
        return f"output_blocks.{index}." + (
            f"0.{_resnet(rest)}" if kind == "resnets" else f"1.{rest}"
        )
    if match := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
        block = int(match.group(1))
        has_attention = "CrossAttn" in config.up_block_types[block]
        index = block * per + config.layers_per_block
        return f"output_blocks.{index}.{2 if has_attention else 1}.conv.{match.group(2)}"
    raise KeyError(key)


def vae_key(key: str, config: Any) -> str:
    """Map a diffusers VAE key to the original layout."""
    blocks = len(config.block_out_channels)
    key = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
    key = re.sub(r"encoder\.down_blocks\.(\d+)\.resnets", r"encoder.down.\1.block", key)
    key = re.sub(
        r"encoder\.down_blocks\.(\d+)\.downsamplers\.0", r"encoder.down.\1.downsample", key
    )
    key = re.sub(
        r"decoder\.up_blocks\.(\d+)\.(resnets|upsamplers\.0)",
        lambda m: (
            f"decoder.up.{blocks - 1 - int(m.group(1))}."
            + ("block" if m.group(2) == "resnets" else "upsample")
        ),
        key,
    )
    key = re.sub(r"mid_block\.resnets\.(\d+)", lambda m: f"mid.block_{int(m.group(1)) + 1}", key)
    if match := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)\.(weight|bias)", key):
        return f"{match.group(1)}.mid.attn_1.{_VAE_ATTENTION[match.group(2)]}.{match.group(3)}"
    return key


def save_ldm_checkpoint(pipe: Any, path: Path) -> Path:
    """Write the pipeline's UNet, VAE and text encoder into one original-layout file."""
    tensors: dict[str, torch.Tensor] = {}
    for key, value in pipe.unet.state_dict().items():
        tensors[f"model.diffusion_model.{unet_key(key, pipe.unet.config)}"] = value
    for key, value in pipe.vae.state_dict().items():
        original = vae_key(key, pipe.vae.config)
        # The original VAE attention uses 1×1 convolutions where diffusers uses linear layers.
        is_linear = ".attn_1." in original and original.endswith("weight") and value.dim() == 2
        tensors[f"first_stage_model.{original}"] = value[:, :, None, None] if is_linear else value
    for key, value in pipe.text_encoder.state_dict().items():
        # transformers 5.6+ dropped CLIPTextModel's "text_model." level; checkpoints keep it.
        inner = key if key.startswith("text_model.") else f"text_model.{key}"
        tensors[f"cond_stage_model.transformer.{inner}"] = value
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return path
