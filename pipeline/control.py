"""ControlNets: a model's configured ones, loaded when first used, and their control images.

A model entry's ``controlnets:`` maps a mode (``canny``, ``scribble``, …) to a ControlNet (a
diffusers folder, hub id or single file). Each is loaded once, on the first job that asks for
its mode, and wrapped in the family's ControlNet pipeline made with ``from_pipe``, so the
model's own modules (and its LoRAs) are shared, not copied. A member's image is preprocessed
at the output size for every image of the job: with :mod:`pipeline.control_images` (canny,
scribble, lineart), by the configured depth model (:mod:`pipeline.depth`), or taken as it is
(a pose skeleton: Easel has no pose estimator).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL.Image import Resampling

from pipeline.control_images import OPENCV_MODES, control_image
from pipeline.depth import DepthEstimator
from pipeline.errors import ModelLoadError, ParameterError
from pipeline.images import read_input_image

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from PIL import Image

    from pipeline.config import InputImageSettings
    from pipeline.loading import LoadedModel
    from pipeline.request import GenerationRequest

logger = logging.getLogger(__name__)

_SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pth", ".bin")


class ControlNets:
    """One model's ControlNets by mode, each loaded on first use."""

    def __init__(
        self, model: LoadedModel, paths: Mapping[str, str], depth_model: str | None = None
    ) -> None:
        self._model = model
        self._paths = dict(paths)
        self._pipelines: dict[str, Any] = {}
        self._depth_model = depth_model
        self._depth: DepthEstimator | None = None

    @property
    def modes(self) -> tuple[str, ...]:
        """Return the modes this model has a ControlNet for."""
        return tuple(self._paths)

    def pipeline(self, mode: str) -> Any:
        """Return the ControlNet pipeline of ``mode``, loading its ControlNet the first time."""
        if mode not in self._pipelines:
            self._pipelines[mode] = self._load(mode)
        return self._pipelines[mode]

    def inputs(
        self, requests: Sequence[GenerationRequest], limits: InputImageSettings
    ) -> list[Image.Image]:
        """Return each image's control image: the member's image read at the output size.

        The OpenCV modes preprocess it, ``depth`` estimates its depth with the configured
        model, and a ``pose`` image is taken as the skeleton the member made.
        """
        images: list[Image.Image] = []
        for request in requests:
            assert request.control_image is not None  # check_batch guarantees it
            source = read_input_image(request.control_image, limits)
            size = (request.width, request.height)
            if request.control_mode in OPENCV_MODES:
                image = control_image(source, request.control_mode, size)
            elif request.control_mode == "depth":
                image = self._depth_estimator().depth_map(source, size)
            else:
                image = source.resize(size, Resampling.LANCZOS)
            images.extend([image] * request.num_images)
        return images

    def _depth_estimator(self) -> DepthEstimator:
        """Return the depth model, loading it the first time."""
        if self._depth is None:
            if self._depth_model is None:
                raise ParameterError(
                    "Depth control needs a depth-estimation model: the owner sets "
                    "control.depth_model in config.yaml."
                )
            self._depth = DepthEstimator.load(self._depth_model, self._model.device)
        return self._depth

    def _load(self, mode: str) -> Any:
        """Load one ControlNet and wrap it in the family's ControlNet pipeline."""
        from diffusers import AutoPipelineForText2Image  # noqa: PLC0415 - slow import

        path = self._paths.get(mode)
        if path is None:
            raise ModelLoadError(f"{self._model.name} has no ControlNet for {mode}")
        model = self._model
        cls = model.family.controlnet_class()
        try:
            if path.lower().endswith(_SINGLE_FILE_SUFFIXES):
                controlnet = cls.from_single_file(path, torch_dtype=model.dtype)
            else:
                local = Path(path).is_absolute()
                controlnet = cls.from_pretrained(
                    path, torch_dtype=model.dtype, local_files_only=local
                )
        except (OSError, ValueError) as error:
            reason = str(error).splitlines()[0][:300]
            raise ModelLoadError(
                f"could not load the {mode} ControlNet {path}: {reason}"
            ) from error
        controlnet.to(model.device)
        pipe = AutoPipelineForText2Image.from_pipe(
            model.txt2img, controlnet=controlnet, dtype=model.dtype
        )
        pipe.set_progress_bar_config(disable=True)
        logger.info("loaded the %s ControlNet %s for %s", mode, path, model.name)
        return pipe
