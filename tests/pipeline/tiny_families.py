"""Build tiny random-weight SDXL and FLUX pipelines offline, for fast per-family tests.

Like ``tiny_model.py`` for SD 1.x, these draw deterministic noise from seeded random weights,
in a fraction of a second on a CPU. They keep each family's *shape* (what the loaders, the
prompt encoders and compel rely on) and shrink only its sizes:

- SDXL: two CLIP text encoders of different widths (the single-file loader tells them apart
  by width), a ``text_time`` UNet whose cross-attention width is their sum, an Euler scheduler
  and ``force_zeros_for_empty_prompt``. Native size 64×64.
- FLUX: a pooled CLIP encoder plus a T5 encoder, a transformer fed 2×2-packed 16-channel
  latents, a VAE with FLUX's scaling and shift, and a dynamically shifted flow-match
  scheduler. ``guidance_embeds`` picks dev-like (True) or schnell-like (False). Native size
  64×64 (the VAE's ``sample_size``), which callers must pass: ``FluxPipeline`` defaults to
  128 latent pixels whatever the VAE, i.e. 1024×1024 as for the real model.

Both VAEs downsample 8× like the real ones, so latents stay tiny and a 4-image batch in
4 steps takes about 0.3 s on one CPU thread. Every model is left in eval mode.
"""

from __future__ import annotations

import string
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

from training.tokenizer import byte_vocabulary

if TYPE_CHECKING:
    from pathlib import Path

SDXL_SIZE = 64
FLUX_SIZE = 64
# Unequal on purpose: the SDXL single-file loader matches each encoder to its weights by width.
SDXL_TEXT_WIDTH = 32
SDXL_TEXT_2_WIDTH = 48
# Ten layers, because diffusers recognises an SDXL base checkpoint by encoder 2's 10th block.
SDXL_TEXT_2_LAYERS = 10
SDXL_TIME_WIDTH = 8
FLUX_CLIP_WIDTH = 32
FLUX_T5_WIDTH = 32
FLUX_T5_LENGTH = 512


def byte_clip_tokenizer(pad_token: str | None = None) -> CLIPTokenizer:
    """Build a byte-level CLIP tokenizer with no merges, so every prompt tokenizes."""
    extra = {} if pad_token is None else {"pad_token": pad_token}
    return CLIPTokenizer(vocab=byte_vocabulary(), merges=[], model_max_length=77, **extra)


def clip_config(
    tokenizer: CLIPTokenizer,
    width: int,
    *,
    layers: int = 2,
    hidden_act: str = "quick_gelu",
) -> CLIPTextConfig:
    """Describe a tiny CLIP text encoder whose vocabulary and special ids match ``tokenizer``."""
    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=2 * width,
        projection_dim=width,
        num_hidden_layers=layers,
        num_attention_heads=2,
        max_position_embeddings=77,
        hidden_act=hidden_act,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def tiny_vae(
    latent_channels: int, *, size: int, scaling: float, shift: float | None = None
) -> AutoencoderKL:
    """Build a four-level VAE with the family's latent statistics and native ``size``.

    Four levels downsample 8× as the real VAEs do, which keeps the latents (and so the UNet
    or transformer, where the time goes) tiny while images stay 64×64.
    """
    flux_like = shift is not None
    return AutoencoderKL(
        block_out_channels=(16, 32, 32, 64),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        latent_channels=latent_channels,
        norm_num_groups=8,
        # FLUX's pipeline families read the native size from here (the transformer has none).
        sample_size=size,
        scaling_factor=scaling,
        shift_factor=shift,
        # FLUX's VAE has no 1×1 convolutions around its latent; SD's and SDXL's do.
        use_quant_conv=not flux_like,
        use_post_quant_conv=not flux_like,
    )


def _for_inference(pipe: Any) -> Any:
    """Put every model of ``pipe`` in eval mode, as ``from_pretrained`` leaves them."""
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()
    return pipe


def build_tiny_sdxl_pipeline() -> StableDiffusionXLPipeline:
    """Assemble a seeded random SDXL pipeline whose native size is 64×64."""
    torch.manual_seed(0)
    tokenizer = byte_clip_tokenizer()
    # SDXL's second tokenizer pads with "!" rather than with the end token.
    tokenizer_2 = byte_clip_tokenizer(pad_token="!")
    text_encoder = CLIPTextModel(clip_config(tokenizer, SDXL_TEXT_WIDTH))
    text_encoder_2 = CLIPTextModelWithProjection(
        clip_config(tokenizer_2, SDXL_TEXT_2_WIDTH, layers=SDXL_TEXT_2_LAYERS, hidden_act="gelu")
    )
    unet = UNet2DConditionModel(
        sample_size=SDXL_SIZE // 8,
        block_out_channels=(32, 64),
        layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2),
        cross_attention_dim=SDXL_TEXT_WIDTH + SDXL_TEXT_2_WIDTH,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=SDXL_TIME_WIDTH,
        # Six micro-conditioning numbers (sizes, crop), each embedded, plus encoder 2's pool.
        projection_class_embeddings_input_dim=6 * SDXL_TIME_WIDTH + SDXL_TEXT_2_WIDTH,
        norm_num_groups=8,
    )
    scheduler = EulerDiscreteScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        steps_offset=1,
        timestep_spacing="leading",
    )
    pipe = StableDiffusionXLPipeline(
        vae=tiny_vae(4, size=SDXL_SIZE, scaling=0.13025),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=scheduler,
        force_zeros_for_empty_prompt=True,
    )
    return _for_inference(pipe)


def build_t5_tokenizer() -> T5Tokenizer:
    """Build a character-level T5 tokenizer: ASCII and Latin-1 pieces, the rest ``<unk>``.

    Real T5 also maps what its vocabulary lacks (emoji, most scripts) to ``<unk>`` rather than
    to bytes; a byte fallback set here would not survive ``save_pretrained``, because the
    reloaded ``T5Tokenizer`` rebuilds its Unigram model without it.
    """
    characters = [c for c in string.printable if not c.isspace()]
    characters += [chr(code) for code in range(0xA1, 0x180)]
    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces.append(("▁", -2.0))
    # A word-initial piece scores higher than "▁" plus the bare character, so it wins.
    pieces += [(f"▁{c}", -3.0) for c in characters]
    pieces += [(c, -3.0) for c in characters]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=FLUX_T5_LENGTH)


def tiny_t5_encoder(tokenizer: T5Tokenizer) -> T5EncoderModel:
    """Build a two-layer T5 encoder with T5 v1.1's gated activation."""
    return T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer),
            d_model=FLUX_T5_WIDTH,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            # T5's default dropout would make a freshly built encoder random per call.
            dropout_rate=0.0,
            feed_forward_proj="gated-gelu",
            is_encoder_decoder=False,
            use_cache=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
    )


def build_tiny_flux_pipeline(*, guidance_embeds: bool = False) -> FluxPipeline:
    """Assemble a seeded random FLUX pipeline (dev-like with ``guidance_embeds``), 64×64."""
    torch.manual_seed(0)
    tokenizer = byte_clip_tokenizer()
    text_encoder = CLIPTextModel(clip_config(tokenizer, FLUX_CLIP_WIDTH))
    tokenizer_2 = build_t5_tokenizer()
    text_encoder_2 = tiny_t5_encoder(tokenizer_2)
    latent_channels = 16
    transformer = FluxTransformer2DModel(
        patch_size=1,
        # The pipeline packs each 2×2 patch of latents into one token.
        in_channels=4 * latent_channels,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=FLUX_T5_WIDTH,
        pooled_projection_dim=FLUX_CLIP_WIDTH,
        guidance_embeds=guidance_embeds,
        # The rotary axes (text index, row, column) must share out the head's width.
        axes_dims_rope=(4, 6, 6),
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000,
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    pipe = FluxPipeline(
        scheduler=scheduler,
        vae=tiny_vae(latent_channels, size=FLUX_SIZE, scaling=0.3611, shift=0.1159),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )
    return _for_inference(pipe)


def save_tiny_sdxl(folder: Path) -> Path:
    """Save the tiny SDXL pipeline as a diffusers folder and return its path."""
    build_tiny_sdxl_pipeline().save_pretrained(folder)
    return folder


def save_tiny_flux(folder: Path, *, guidance_embeds: bool = False) -> Path:
    """Save the tiny FLUX pipeline as a diffusers folder and return its path."""
    build_tiny_flux_pipeline(guidance_embeds=guidance_embeds).save_pretrained(folder)
    return folder
