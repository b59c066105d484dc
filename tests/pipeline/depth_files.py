"""A tiny random depth-estimation model (DPT) saved as a transformers folder, for tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

if TYPE_CHECKING:
    from pathlib import Path


def save_tiny_depth_model(folder: Path) -> Path:
    """Save a seeded random DPT model and its processor (32×32 input) in ``folder``."""
    torch.manual_seed(0)
    config = DPTConfig(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        backbone_out_indices=[0, 1, 2, 3],
        head_in_index=-1,
    )
    DPTForDepthEstimation(config).save_pretrained(folder)
    processor = DPTImageProcessor(
        size={"height": 32, "width": 32}, keep_aspect_ratio=False, ensure_multiple_of=8
    )
    processor.save_pretrained(folder)
    return folder
