"""Depth maps from members' images, for depth ControlNets: a configured transformers model.

Depth cannot be read from an image with a filter the way edges can; it takes a model trained
for it (Depth Anything, DPT, …), named by ``control.depth_model``. Its relative depth is
stretched to the full 0–255 range with near things bright, the convention depth ControlNets
are trained on, and returned as an RGB image at the output size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from pipeline.errors import ModelLoadError


class DepthEstimator:
    """A loaded depth-estimation model and its image processor."""

    def __init__(self, model: Any, processor: Any, device: torch.device) -> None:
        self._model = model
        self._processor = processor
        self._device = device

    @classmethod
    def load(cls, path: str, device: torch.device) -> DepthEstimator:
        """Load the model at ``path`` (a folder or hub id), or say why it cannot be used."""
        from transformers import (  # noqa: PLC0415 - slow import, only with a depth model
            AutoImageProcessor,
            AutoModelForDepthEstimation,
        )

        local = Path(path).is_absolute()
        try:
            processor = AutoImageProcessor.from_pretrained(path, local_files_only=local)
            model = AutoModelForDepthEstimation.from_pretrained(path, local_files_only=local)
        except (OSError, ValueError) as error:
            reason = str(error).splitlines()[0][:300]
            raise ModelLoadError(
                f"control.depth_model: {path} is not a depth-estimation model that loads "
                f"here: {reason}"
            ) from error
        return cls(model.to(device).eval(), processor, device)

    @torch.inference_mode()
    def depth_map(self, image: Image.Image, size: tuple[int, int]) -> Image.Image:
        """Return the depth map of ``image`` at ``size`` (width, height): near is bright."""
        inputs = self._processor(images=image.convert("RGB"), return_tensors="pt")
        inputs = {name: value.to(self._device) for name, value in inputs.items()}
        predicted = self._model(**inputs).predicted_depth.float()
        resized = torch.nn.functional.interpolate(
            predicted.unsqueeze(1), size=(size[1], size[0]), mode="bicubic", align_corners=False
        )[0, 0]
        low, high = float(resized.min()), float(resized.max())
        scaled = (resized - low) / (high - low) if high > low else torch.zeros_like(resized)
        pixels = (scaled.clamp(0, 1) * 255).round().byte().cpu().numpy()
        return Image.fromarray(np.stack([pixels] * 3, axis=-1), "RGB")
