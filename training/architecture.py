"""The built-in model's components: standard diffusers and transformers classes, only small.

Every norm layer keeps at least four channels per group: with one channel per group a
GroupNorm subtracts each channel's own mean and so erases exactly the flat colour areas
this world is made of.
"""

from __future__ import annotations

from diffusers import AutoencoderKL, DDPMScheduler, EulerDiscreteScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

NATIVE_SIZE = 64
LATENT_CHANNELS = 4
TEXT_WIDTH = 128
# Stable Diffusion's own noise schedule, so every sampler the engine offers applies unchanged.
NOISE_SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
    "steps_offset": 1,
    "timestep_spacing": "leading",
}


def build_vae() -> AutoencoderKL:
    """Return an autoencoder that shrinks images 4× per side into 4 latent channels."""
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32, 32),
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=4,
        sample_size=NATIVE_SIZE,
    )


def build_text_encoder(tokenizer: CLIPTokenizer) -> CLIPTextModel:
    """Return a three-layer CLIP text transformer sized for a vocabulary of a few hundred."""
    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=TEXT_WIDTH,
            intermediate_size=TEXT_WIDTH * 4,
            num_hidden_layers=3,
            num_attention_heads=4,
            max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )


def build_unet() -> UNet2DConditionModel:
    """Return a denoiser with cross-attention to the text at 16×16 and 8×8 latents."""
    return UNet2DConditionModel(
        sample_size=NATIVE_SIZE // 4,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        block_out_channels=(48, 96, 96),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=4,  # diffusers reads this as the number of heads
        norm_num_groups=12,
    )


def training_scheduler() -> DDPMScheduler:
    """Return the scheduler that adds noise during training."""
    return DDPMScheduler(**NOISE_SCHEDULE)


def shipped_scheduler() -> EulerDiscreteScheduler:
    """Return the scheduler saved with the model, which plain diffusers uses by default."""
    return EulerDiscreteScheduler(**NOISE_SCHEDULE)
