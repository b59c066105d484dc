"""Randomly initialised SDXL and FLUX.1-schnell, for timing the real models' shapes offline.

Every module is built from the published ``config.json`` of stabilityai/stable-diffusion-xl-
base-1.0 and black-forest-labs/FLUX.1-schnell (values written out below), so every layer and
every FLOP is the real model's; only the weights are random and nothing is downloaded. The
tokenizers are the tests' offline ones (byte-level CLIP, character-level T5): prompts become
different token ids, but the sequences are padded to the real lengths (77 and 512).

Unlike ``sd15.py``, the benchmark does not save the model and load it back through Easel's
loader: FLUX.1 is about 34 GB in bfloat16, so a save and a load would take longer than the
timing and could fill a small disk. Instead the pipeline is built directly on the GPU in
bfloat16 and wrapped in Easel's ``Engine`` by hand (:func:`engine_for`), with the same family
object, derived img2img/inpaint pipelines and attention setting the loader would give it; the
loading path itself is covered by the tests' tiny families. ``prepare_random_sdxl`` and
``prepare_random_flux`` still save a folder, for a run that should go through the loader.

``python benchmarks/large_models.py`` builds both on the meta device (no memory, no weights)
and prints each module's parameter count, to check the architectures against the published
figures on any machine.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    FluxPipeline,
    FluxTransformer2DModel,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    T5Config,
    T5EncoderModel,
    T5Tokenizer,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import GenerationSettings, InputImageSettings
from pipeline.engine import Engine
from pipeline.families import family_named
from pipeline.families.base import ModelTraits
from pipeline.loading import LoadedModel, default_cpu_threads

# The tests' offline tokenizers (no download); their ids fit the real embedding tables.
from tests.pipeline.tiny_families import (
    build_t5_tokenizer,
    build_tiny_flux_pipeline,
    build_tiny_sdxl_pipeline,
    byte_clip_tokenizer,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

ARCHITECTURES = ("sdxl", "flux")


@contextmanager
def building_on(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Create every new tensor on ``device`` in ``dtype``: no float32 copy on the host first."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:
            yield
    finally:
        torch.set_default_dtype(previous)


def build_random(
    arch: str,
    device: torch.device,
    dtype: torch.dtype,
    *,
    tiny: bool = False,
    shallow: bool = False,
) -> Any:
    """Build the random ``sdxl`` or ``flux`` pipeline on ``device``.

    ``tiny`` builds the tests' tiny model of the family instead; ``shallow`` keeps every
    published width but one layer of each repeated stack, to check the real shapes on a CPU.
    """
    quiet_libraries()
    if tiny:
        tiny_pipe = build_tiny_sdxl_pipeline() if arch == "sdxl" else build_tiny_flux_pipeline()
        return tiny_pipe.to(device=device, dtype=dtype)
    torch.manual_seed(0)
    build = build_random_sdxl if arch == "sdxl" else build_random_flux
    pipe = build(device, dtype, shallow=shallow)
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()
    return pipe


def quiet_libraries() -> None:
    """Keep diffusers' and transformers' notices (casting, progress bars) out of the figures."""
    from diffusers.utils import logging as diffusers_logging  # noqa: PLC0415
    from transformers.utils import logging as transformers_logging  # noqa: PLC0415

    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()


def build_random_sdxl(
    device: torch.device, dtype: torch.dtype, *, shallow: bool = False
) -> StableDiffusionXLPipeline:
    """Assemble SDXL base 1.0's architecture with random weights (about 3.5 B parameters)."""
    tokenizer = byte_clip_tokenizer()
    # SDXL's second tokenizer pads with "!" rather than with the end token.
    tokenizer_2 = byte_clip_tokenizer(pad_token="!")
    # Schedulers keep float32 tables on the CPU, so only the modules are built on the device.
    with building_on(device, dtype), torch.no_grad():
        vae = AutoencoderKL(**SDXL_VAE)
        text_encoder = CLIPTextModel(clip_config(tokenizer, shallow, **CLIP_L))
        text_encoder_2 = CLIPTextModelWithProjection(
            clip_config(tokenizer_2, shallow, **OPENCLIP_BIGG)
        )
        unet = UNet2DConditionModel(**(SDXL_UNET | (SHALLOW_UNET if shallow else {})))
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SDXL_SCHEDULER),
        force_zeros_for_empty_prompt=True,
    )


def build_random_flux(
    device: torch.device, dtype: torch.dtype, *, shallow: bool = False
) -> FluxPipeline:
    """Assemble FLUX.1-schnell's architecture with random weights (about 16.9 B parameters)."""
    tokenizer = byte_clip_tokenizer()
    tokenizer_2 = build_t5_tokenizer()
    with building_on(device, dtype), torch.no_grad():
        vae = AutoencoderKL(**FLUX_VAE)
        text_encoder = CLIPTextModel(clip_config(tokenizer, shallow, **CLIP_L))
        text_encoder_2 = T5EncoderModel(t5_xxl_config(tokenizer_2, layers=1 if shallow else 24))
        transformer = FluxTransformer2DModel(
            **(FLUX_TRANSFORMER | (SHALLOW_TRANSFORMER if shallow else {}))
        )
    return FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(**FLUX_SCHEDULER),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )


def clip_config(tokenizer: CLIPTokenizer, shallow: bool, **sizes: Any) -> CLIPTextConfig:
    """Describe a CLIP text encoder of the given sizes whose special ids match ``tokenizer``."""
    if shallow:
        # Two layers, so that the penultimate layer SDXL reads is not the embeddings.
        sizes = sizes | {"num_hidden_layers": 2}
    return CLIPTextConfig(
        vocab_size=49408,
        max_position_embeddings=77,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **sizes,
    )


def t5_xxl_config(tokenizer: T5Tokenizer, *, layers: int = 24) -> T5Config:
    """Describe T5 v1.1 XXL's encoder (FLUX's text_encoder_2) with ``tokenizer``'s ids."""
    return T5Config(
        vocab_size=32128,
        d_model=4096,
        d_kv=64,
        d_ff=10240,
        num_layers=layers,
        num_heads=64,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        layer_norm_epsilon=1e-6,
        feed_forward_proj="gated-gelu",
        dropout_rate=0.0,
        is_encoder_decoder=False,
        use_cache=False,
        tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )


def engine_for(pipe: Any, arch: str, device: torch.device, dtype: torch.dtype) -> Engine:
    """Wrap an in-memory pipeline in Easel's engine as the loader would, in ``dtype``."""
    family = family_named(arch)
    if device.type == "cpu":
        # As the loader does: one core left to the rest, and no oversubscribed thread pool.
        torch.set_num_threads(default_cpu_threads())
    pipe.to(device=device, dtype=dtype)
    family.apply_attention(pipe, "sdpa")
    img2img, inpaint = family.derive(pipe, dtype)
    for each in (pipe, img2img, inpaint):
        each.set_progress_bar_config(disable=True)
    traits = ModelTraits(arch, family.native_size(pipe), weights_bytes=weights_bytes(pipe))
    model = LoadedModel(
        txt2img=pipe,
        img2img=img2img,
        inpaint=inpaint,
        family=family,
        traits=traits,
        device=device,
        dtype=dtype,
        name=f"{arch}-random",
        load_seconds=0.0,
    )
    settings = GenerationSettings(max_steps=500)
    return Engine(model, settings, InputImageSettings())


def parameter_counts(pipe: Any) -> dict[str, int]:
    """Return each module's parameter count, by component name."""
    return {
        name: sum(parameter.numel() for parameter in component.parameters())
        for name, component in pipe.components.items()
        if isinstance(component, torch.nn.Module)
    }


def weights_bytes(pipe: Any) -> int:
    """Return the bytes the pipeline's parameters take in their current dtype."""
    return sum(
        parameter.numel() * parameter.element_size()
        for component in pipe.components.values()
        if isinstance(component, torch.nn.Module)
        for parameter in component.parameters()
    )


def prepare_random_sdxl(folder: Path) -> Path:
    """Return a saved random SDXL pipeline under ``folder`` (about 7 GB), building it once."""
    return _prepare(folder / "sdxl-random", "sdxl")


def prepare_random_flux(folder: Path) -> Path:
    """Return a saved random FLUX.1-schnell pipeline under ``folder`` (about 34 GB)."""
    return _prepare(folder / "flux-random", "flux")


def _prepare(model_dir: Path, arch: str) -> Path:
    """Build and save ``arch`` in bfloat16 unless ``model_dir`` already holds it."""
    if not (model_dir / "model_index.json").exists():
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        build_random(arch, device, torch.bfloat16).save_pretrained(model_dir)
    return model_dir


def print_architectures() -> None:
    """Build both architectures on the meta device and print their parameter counts."""
    for arch in ARCHITECTURES:
        pipe = build_random(arch, torch.device("meta"), torch.bfloat16)
        counts = parameter_counts(pipe)
        print(f"{arch}: {sum(counts.values()) / 1e9:.3f} B parameters")
        for name, count in counts.items():
            print(f"  {name:16s} {count:15,d}")


# The published architectures: each module's config.json, keys as diffusers/transformers take.
SDXL_UNET: dict[str, Any] = {
    "sample_size": 128,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "transformer_layers_per_block": (1, 2, 10),
    "attention_head_dim": (5, 10, 20),
    "cross_attention_dim": 2048,
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
}
SDXL_VAE: dict[str, Any] = {
    "sample_size": 1024,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "scaling_factor": 0.13025,
    "force_upcast": True,
}
SDXL_SCHEDULER: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
    "timestep_spacing": "leading",
}
# OpenAI CLIP ViT-L/14's text tower: SDXL's text_encoder and FLUX.1's.
CLIP_L: dict[str, Any] = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "projection_dim": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "hidden_act": "quick_gelu",
}
# OpenCLIP ViT-bigG/14's text tower: SDXL's text_encoder_2, with its projection.
OPENCLIP_BIGG: dict[str, Any] = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "projection_dim": 1280,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "hidden_act": "gelu",
}
FLUX_TRANSFORMER: dict[str, Any] = {
    "patch_size": 1,
    "in_channels": 64,
    "num_layers": 19,
    "num_single_layers": 38,
    "attention_head_dim": 128,
    "num_attention_heads": 24,
    "joint_attention_dim": 4096,
    "pooled_projection_dim": 768,
    "guidance_embeds": False,
    "axes_dims_rope": (16, 56, 56),
}
FLUX_VAE: dict[str, Any] = {
    **SDXL_VAE,
    "latent_channels": 16,
    "scaling_factor": 0.3611,
    "shift_factor": 0.1159,
    "use_quant_conv": False,
    "use_post_quant_conv": False,
}
FLUX_SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "use_dynamic_shifting": False,
    "base_shift": 0.5,
    "max_shift": 1.15,
    "base_image_seq_len": 256,
    "max_image_seq_len": 4096,
}

# --shallow: the same widths, one layer of each repeated stack (a CPU check of the shapes).
SHALLOW_UNET: dict[str, Any] = {"layers_per_block": 1, "transformer_layers_per_block": 1}
SHALLOW_TRANSFORMER: dict[str, Any] = {"num_layers": 1, "num_single_layers": 1}


if __name__ == "__main__":
    print_architectures()
