"""Read a FLUX transformer from one file in Black Forest Labs' original layout.

FLUX fine-tunes are shared as one ``.safetensors`` holding only the transformer, in Black
Forest Labs' original layout. Such a file is loaded here rather than by
``FluxPipeline.from_single_file``: the transformer comes from the file, converted to diffusers'
names, and everything else (text encoders, VAE, scheduler, the transformer's config) from the
diffusers FLUX model named by the model's ``config:`` key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.errors import ModelLoadError

if TYPE_CHECKING:
    from pathlib import Path

_ORIGINAL_PREFIX = "model.diffusion_model."
_ORIGINAL_ROOTS = ("img_in", "txt_in", "time_in", "vector_in", "guidance_in", "final_layer")
_ORIGINAL_BLOCKS = {
    "double_blocks": "transformer_blocks",
    "single_blocks": "single_transformer_blocks",
}
# BFL's module -> diffusers' module, for modules that are only renamed.
_TOP = {
    "time_in.in_layer": "time_text_embed.timestep_embedder.linear_1",
    "time_in.out_layer": "time_text_embed.timestep_embedder.linear_2",
    "vector_in.in_layer": "time_text_embed.text_embedder.linear_1",
    "vector_in.out_layer": "time_text_embed.text_embedder.linear_2",
    "guidance_in.in_layer": "time_text_embed.guidance_embedder.linear_1",
    "guidance_in.out_layer": "time_text_embed.guidance_embedder.linear_2",
    "txt_in": "context_embedder",
    "img_in": "x_embedder",
    "final_layer.linear": "proj_out",
    "final_layer.adaLN_modulation.1": "norm_out.linear",
}
_DOUBLE = {
    "img_mod.lin": "norm1.linear",
    "txt_mod.lin": "norm1_context.linear",
    "img_attn.norm.query_norm": "attn.norm_q",
    "img_attn.norm.key_norm": "attn.norm_k",
    "txt_attn.norm.query_norm": "attn.norm_added_q",
    "txt_attn.norm.key_norm": "attn.norm_added_k",
    "img_mlp.0": "ff.net.0.proj",
    "img_mlp.2": "ff.net.2",
    "txt_mlp.0": "ff_context.net.0.proj",
    "txt_mlp.2": "ff_context.net.2",
    "img_attn.proj": "attn.to_out.0",
    "txt_attn.proj": "attn.to_add_out",
}
_SINGLE = {
    "modulation.lin": "norm.linear",
    "norm.query_norm": "attn.norm_q",
    "norm.key_norm": "attn.norm_k",
    "linear2": "proj_out",
}
# BFL's fused projections -> diffusers' modules, in the order BFL concatenates them.
_FUSED = {
    "img_attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "txt_attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
    "linear1": ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"),
}
_RENAMES = {"": _TOP, "double_blocks": _DOUBLE, "single_blocks": _SINGLE}


def load_original_transformer(path: Path, config: str, common: dict[str, Any]) -> Any:
    """Build the transformer ``config`` describes, holding the weights of BFL's file ``path``.

    Not ``FluxTransformer2DModel.from_single_file``: its converter assumes FLUX.1's full
    width (3072, a 4× MLP) whatever the config says, it reads the config past ``cache_dir``,
    and it loads non-strictly, so a dev file paired with a schnell config would silently
    drop the guidance input. Here the sizes come from the file and every weight must fit.
    """
    from accelerate import init_empty_weights  # noqa: PLC0415 - slow import
    from diffusers import FluxTransformer2DModel  # noqa: PLC0415
    from diffusers.loaders.single_file_utils import (  # noqa: PLC0415
        load_single_file_checkpoint,
    )

    original = original_transformer_tensors(load_single_file_checkpoint(str(path)), path)
    settings = FluxTransformer2DModel.load_config(config, subfolder="transformer", **common)
    _check_fits(original, settings, path, config)
    with init_empty_weights():
        transformer = FluxTransformer2DModel.from_config(settings)
    try:
        transformer.load_state_dict(convert_original_transformer(original), assign=True)
    except RuntimeError as error:
        reason = str(error).splitlines()[0][:300]
        raise ModelLoadError(
            f"{path.name} does not fit the transformer of {config}: {reason}"
        ) from error
    return transformer.eval()


def original_transformer_tensors(checkpoint: dict[str, Any], path: Path) -> dict[str, Any]:
    """Return the transformer's tensors of a BFL checkpoint, without any prefix.

    Tensors of other models in the same file (text encoders, VAE) are left out.
    """
    tensors: dict[str, Any] = {}
    for key, tensor in checkpoint.items():
        name = key.removeprefix(_ORIGINAL_PREFIX)
        if name.split(".", 1)[0] in (*_ORIGINAL_ROOTS, *_ORIGINAL_BLOCKS):
            tensors[name] = tensor
    if "img_in.weight" not in tensors:
        raise ModelLoadError(f"{path.name} holds no FLUX transformer in the original layout.")
    return tensors


def _check_fits(
    original: dict[str, Any], settings: dict[str, Any], path: Path, config: str
) -> None:
    """Refuse a file whose depth, width or guidance input differs from the config's."""
    found = {
        "num_layers": _count_blocks(original, "double_blocks"),
        "num_single_layers": _count_blocks(original, "single_blocks"),
        "width": int(original["img_in.weight"].shape[0]),
        "guidance_embeds": "guidance_in.in_layer.weight" in original,
    }
    expected = {
        "num_layers": settings.get("num_layers"),
        "num_single_layers": settings.get("num_single_layers"),
        "width": settings.get("num_attention_heads", 0) * settings.get("attention_head_dim", 0),
        "guidance_embeds": bool(settings.get("guidance_embeds", False)),
    }
    differ = [
        f"{key} {found[key]} (config: {expected[key]})"
        for key in found
        if found[key] != expected[key]
    ]
    if differ:
        hint = (
            " A file with a guidance input is dev-like and needs a FLUX.1-dev config; one "
            "without is schnell-like and needs a FLUX.1-schnell config."
            if found["guidance_embeds"] != expected["guidance_embeds"]
            else ""
        )
        raise ModelLoadError(
            f"{path.name} is not the architecture of {config}'s transformer: it has "
            f"{', '.join(differ)}.{hint}"
        )


def _count_blocks(original: dict[str, Any], kind: str) -> int:
    """Return how many double or single blocks a BFL checkpoint holds."""
    indices = {int(key.split(".", 2)[1]) for key in original if key.startswith(f"{kind}.")}
    return max(indices, default=-1) + 1


def convert_original_transformer(original: dict[str, Any]) -> dict[str, Any]:
    """Rename BFL's transformer tensors to diffusers' names, splitting its fused projections."""
    width = int(original["img_in.weight"].shape[0])
    converted: dict[str, Any] = {}
    for key, tensor in original.items():
        converted |= _convert_tensor(key, tensor, width)
    return converted


def _convert_tensor(key: str, tensor: Any, width: int) -> dict[str, Any]:
    """Return one BFL tensor under diffusers' name, or the parts of a fused one."""
    root, _, rest = key.partition(".")
    if root in _ORIGINAL_BLOCKS:
        index, _, rest = rest.partition(".")
        target = f"{_ORIGINAL_BLOCKS[root]}.{index}."
    else:
        root, rest, target = "", key, ""
    module, param = rest.rsplit(".", 1)
    param = "weight" if param == "scale" else param  # BFL's RMSNorm weights
    if root and module in _FUSED:
        return _split_fused(target, _FUSED[module], param, tensor, width)
    if module not in _RENAMES[root]:
        raise ModelLoadError(f"{key} is not a FLUX transformer weight Easel can convert.")
    if module == "final_layer.adaLN_modulation.1":
        # BFL modulates with (shift, scale), diffusers' AdaLayerNormContinuous with (scale,
        # shift): rolling by half swaps the halves.
        tensor = tensor.roll(int(tensor.shape[0]) // 2, dims=0)
    return {f"{target}{_RENAMES[root][module]}.{param}": tensor}


def _split_fused(
    target: str, names: tuple[str, ...], param: str, tensor: Any, width: int
) -> dict[str, Any]:
    """Split a fused q, k, v (and, in single blocks, MLP input) projection into its parts."""
    sizes = [width] * 3 + [int(tensor.shape[0]) - 3 * width] if len(names) == 4 else [width] * 3
    parts = tensor.split(sizes, dim=0)
    return {f"{target}{name}.{param}": part for name, part in zip(names, parts, strict=True)}
