"""The engine's part of ``config.yaml``: validated, frozen settings (read by :mod:`.config_file`).

The bot extends :class:`PipelineConfig` with its own sections and loads the same file with
:func:`load_config`, so both read one file with one set of rules: unknown keys are refused,
relative paths are relative to the config file, and ``EASEL_DATA_DIR`` overrides ``data_dir``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.cluster.settings import ClusterSettings
from pipeline.config_paths import (
    LOCAL_CHECKPOINT_SUFFIXES,
    Section,
    base_dir,
    resolve_model_reference,
)
from pipeline.errors import PromptError
from pipeline.prompt_syntax import parse_weighted_prompt
from pipeline.samplers import SAMPLER_NAMES, UNET_SAMPLERS, resolve_sampler_name
from pipeline.shape_buckets import CompileSettings

# How a control image is read (pipeline/control_images.py); a model's controlnets: are keyed so.
CONTROL_MODES = ("canny", "scribble", "lineart", "depth", "pose")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,31}$")


class ModelSettings(Section):
    """Which model to load and how to place it on the hardware."""

    path: str = Field(description="hub id, diffusers folder, or single .safetensors file")
    config: str | None = None
    device: str = "auto"
    dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    attention: Literal["sdpa", "classic"] = "sdpa"
    compile: bool = False
    compiled: CompileSettings = Field(default_factory=CompileSettings)  # with compile: true
    channels_last: bool = False
    attention_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: Literal["none", "model", "sequential"] = "none"
    quantize: Literal["none", "int8", "fp8"] = "none"
    cpu_threads: int | None = Field(default=None, ge=1, le=1024)
    cache_dir: Path | None = None
    # A dedicated inpainting model (a diffusers folder or hub id) whose UNet draws the edits.
    inpaint: str | None = None
    # ControlNets by mode (canny, scribble, lineart, depth, pose): folders, hub ids or files.
    controlnets: dict[str, str] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _resolve_path(cls, value: str, info: ValidationInfo) -> str:
        return resolve_model_reference(value, info, must_exist=True)

    @field_validator("config")
    @classmethod
    def _resolve_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_model_reference(value, info, must_exist=True)

    @field_validator("inpaint")
    @classmethod
    def _resolve_inpaint(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value.lower().endswith(LOCAL_CHECKPOINT_SUFFIXES):
            raise ValueError(
                "takes a diffusers folder or hub id of an inpainting model (its unet/ is used), "
                "not a single file"
            )
        return None if value is None else resolve_model_reference(value, info, must_exist=True)

    @field_validator("controlnets")
    @classmethod
    def _resolve_controlnets(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        unknown = sorted(set(value) - set(CONTROL_MODES))
        if unknown:
            raise ValueError(f"unknown mode {unknown[0]!r:.20}: use {', '.join(CONTROL_MODES)}")
        return {
            mode: resolve_model_reference(path, info, must_exist=True)
            for mode, path in value.items()
        }

    @field_validator("cache_dir")
    @classmethod
    def _resolve_cache_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else (base_dir(info) / value.expanduser()).resolve()

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError("must be auto, cpu, mps, cuda or cuda:N")
        return value

    @property
    def source(self) -> Literal["hub", "folder", "file"]:
        """Say where the weights come from, which decides how they are loaded."""
        if not Path(self.path).is_absolute():
            return "hub"
        return "file" if self.path.lower().endswith(LOCAL_CHECKPOINT_SUFFIXES) else "folder"


class ModelEntry(ModelSettings):
    """One configured model: where it is, how to place it, its name and its own defaults."""

    name: str | None = None
    default: bool = False
    steps: int | None = Field(default=None, ge=1, le=500)
    guidance: float | None = Field(default=None, ge=0.0, le=30.0)
    sampler: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not _MODEL_NAME.match(value):
            raise ValueError(
                "must be 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("sampler")
    @classmethod
    def _check_sampler(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = resolve_sampler_name(value)
        if name is None:
            raise ValueError(f"unknown sampler {value!r}; choose one of {', '.join(SAMPLER_NAMES)}")
        return name

    @property
    def label(self) -> str:
        """Return the name users type: ``name``, else the folder's, file's or hub id's last part."""
        return self.name or model_label(self.path)


def model_label(path: str) -> str:
    """Name a model after the last part of its path or hub id (``easel-tiny``, ``sd-turbo``)."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    stem = Path(last).stem if last.lower().endswith(LOCAL_CHECKPOINT_SUFFIXES) else last
    cleaned = re.sub(r"[^\w.-]", "-", stem).strip("-.") or "model"
    return cleaned[:32]


class StyleSettings(Section):
    """A hidden style preset: a template around the member's prompt, and what it avoids."""

    prompt: str = Field(description="the template; {prompt} is replaced by the member's prompt")
    negative: str = ""
    model: str | None = None
    steps: int | None = Field(default=None, ge=1, le=500)
    loras: dict[str, float] = Field(default_factory=dict)

    @field_validator("loras")
    @classmethod
    def _check_lora_weights(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if not -2.0 <= weight <= 2.0:
                raise ValueError(f"the LoRA {name}'s weight {weight:g} is outside -2 to 2")
        return value

    @field_validator("prompt")
    @classmethod
    def _holds_the_prompt(cls, value: str) -> str:
        if value.count("{prompt}") != 1:
            raise ValueError("must contain {prompt} exactly once, where the member's prompt goes")
        try:
            parse_weighted_prompt(value.replace("{prompt}", "x"))
        except PromptError as error:
            raise ValueError(f"its weighting cannot be read: {error}") from None
        return value


class GenerationSettings(Section):
    """Defaults and limits for what users may ask of the engine."""

    sampler: str = "Euler a"
    steps: int = Field(default=25, ge=1, le=500)
    max_steps: int = Field(default=60, ge=1, le=500)
    guidance: float = Field(default=7.0, ge=0.0, le=30.0)
    strength: float = Field(default=0.6, gt=0.0, le=1.0)
    max_pixels: int = Field(default=2048 * 2048, ge=64 * 64)
    max_aspect: float = Field(default=4.0, ge=1.0, le=16.0)
    max_prompt_chars: int = Field(default=1500, ge=1, le=6000)
    variation_subtle: float = Field(default=0.35, gt=0.0, le=1.0)
    variation_strong: float = Field(default=0.65, gt=0.0, le=1.0)
    upscale_strength: float = Field(default=0.3, gt=0.0, le=1.0)
    upscale_creative: float = Field(default=0.55, gt=0.0, le=1.0)
    upscale_tiling_above_pixels: int = Field(default=1024 * 1024, ge=64 * 64)
    preview_every: int = Field(default=5, ge=0, le=500)
    fast: bool = False  # --fast for every job (a member's --fast off opts out)
    fast_every: int = Field(default=3, ge=2, le=10)  # --fast on a UNet: a full step every N
    fast_full_steps: int = Field(default=3, ge=0, le=100)  # ... after this many full ones
    fast_threshold: float = Field(default=0.1, gt=0.0, le=1.0)  # --fast on FLUX: reuse below
    max_loras: int = Field(default=4, ge=0, le=16)
    max_repeat: int = Field(default=4, ge=1, le=40)

    @field_validator("sampler")
    @classmethod
    def _check_sampler(cls, value: str) -> str:
        name = resolve_sampler_name(value)
        if name is None or name not in UNET_SAMPLERS:
            names = ", ".join(UNET_SAMPLERS)
            raise ValueError(f"unknown sampler {value!r} for SD/SDXL models; choose one of {names}")
        return name

    @model_validator(mode="after")
    def _steps_within_limit(self) -> Self:
        if self.steps > self.max_steps:
            raise ValueError(f"steps ({self.steps}) must not exceed max_steps ({self.max_steps})")
        return self


class InputImageSettings(Section):
    """Limits on images users upload for img2img, checked before any pixel is decoded."""

    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(default=40_000_000, ge=64 * 64)


class LoraSettings(Section):
    """Where LoRA files are: each ``.safetensors`` file is one LoRA, named by its file stem."""

    dir: Path | None = None  # None: <data_dir>/loras
    extra_dirs: tuple[Path, ...] = ()

    @field_validator("dir")
    @classmethod
    def _resolve_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else (base_dir(info) / value.expanduser()).resolve()

    @field_validator("extra_dirs")
    @classmethod
    def _resolve_extra_dirs(cls, value: tuple[Path, ...], info: ValidationInfo) -> tuple[Path, ...]:
        return tuple((base_dir(info) / path.expanduser()).resolve() for path in value)


class QueueSettings(Section):
    """How the job queue shares the GPU: batching, fairness limits, timeouts."""

    devices: tuple[str, ...] = ()
    max_batch_images: int = Field(default=8, ge=1, le=256)
    gather_ms: int = Field(default=5, ge=0, le=5000)
    max_jobs_per_user: int = Field(default=5, ge=1, le=1000)
    max_pending: int = Field(default=100, ge=1, le=100_000)
    job_timeout: float = Field(default=600.0, gt=0)
    shutdown_grace: float = Field(default=5.0, ge=0, le=600)
    max_attempts: int = Field(default=2, ge=1, le=10)
    max_loaded_models: int = Field(default=2, ge=1, le=64)

    @field_validator("devices")
    @classmethod
    def _check_devices(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for device in value:
            if not _DEVICE.match(device) or device == "auto":
                raise ValueError(f"{device!r} is not a device: use cpu, mps, cuda or cuda:N")
        if len(set(value)) != len(value):
            raise ValueError("a device is listed twice")
        return value


class ControlSettings(Section):
    """The models that turn a member's image into a control image OpenCV cannot make."""

    # A transformers depth-estimation model (a folder or hub id: Depth Anything, DPT, …) that
    # turns a member's image into the depth map a depth ControlNet reads.
    depth_model: str | None = None

    @field_validator("depth_model")
    @classmethod
    def _resolve_depth_model(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_model_reference(value, info, must_exist=True)


class PipelineConfig(BaseModel):
    """The sections of ``config.yaml`` the engine reads; other sections belong to the bot."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    data_dir: Path = Path("data")
    model: ModelEntry | None = None
    models: tuple[ModelEntry, ...] = ()
    generation: GenerationSettings = GenerationSettings()
    input_images: InputImageSettings = InputImageSettings()
    queue: QueueSettings = QueueSettings()
    styles: dict[str, StyleSettings] = {}
    loras: LoraSettings = LoraSettings()
    # A super-resolution model (ESRGAN family, .pth or .safetensors) for every upscale.
    upscaler: str | None = None
    control: ControlSettings = ControlSettings()
    cluster: ClusterSettings = ClusterSettings()

    @field_validator("upscaler")
    @classmethod
    def _resolve_upscaler(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_model_reference(value, info, must_exist=True)

    @field_validator("styles")
    @classmethod
    def _check_style_names(cls, value: dict[str, StyleSettings]) -> dict[str, StyleSettings]:
        for name in value:
            if not _MODEL_NAME.match(name) or name.casefold() == "raw":
                raise ValueError(
                    f"style name {name!r:.40}: use 1-32 letters, digits, '.', '_' or '-' "
                    "('raw' is taken: it means no style)"
                )
        return value

    @field_validator("data_dir")
    @classmethod
    def _resolve_data_dir(cls, value: Path, info: ValidationInfo) -> Path:
        return (base_dir(info) / value.expanduser()).resolve()

    @model_validator(mode="after")
    def _one_way_to_name_models(self) -> Self:
        if (self.model is None) == (not self.models):
            raise ValueError(
                "give either model: (one model) or models: (a list of named models), not both"
                if self.models
                else "model: required but missing (or models:, a list of named models)"
            )
        if self.models:
            unnamed = [str(i + 1) for i, entry in enumerate(self.models) if entry.name is None]
            if unnamed:
                raise ValueError(f"models: entry {', '.join(unnamed)} needs a name:")
        names = [entry.label for entry in self.model_entries]
        folded = [name.casefold() for name in names]  # --model ignores case
        repeated = sorted({name for name in names if folded.count(name.casefold()) > 1})
        if repeated:
            raise ValueError(
                f"models: two entries have the same name ({', '.join(repeated)}); "
                "names are compared ignoring case"
            )
        if sum(entry.default for entry in self.model_entries) > 1:
            raise ValueError("models: only one entry may say default: true")
        if self.control.depth_model is None and any(
            "depth" in entry.controlnets for entry in self.model_entries
        ):
            raise ValueError(
                "a model has a depth ControlNet: set control.depth_model to a depth-estimation "
                "model (e.g. depth-anything/Depth-Anything-V2-Small-hf, or its local folder), "
                "which turns members' images into the depth maps it reads"
            )
        return self

    @property
    def model_entries(self) -> tuple[ModelEntry, ...]:
        """Return every configured model (``model:`` is a list of one)."""
        return (self.model,) if self.model is not None else self.models

    @property
    def default_model(self) -> ModelEntry:
        """Return the model a prompt uses when it names none: ``default: true``, else the first."""
        entries = self.model_entries
        return next((entry for entry in entries if entry.default), entries[0])

    def model_named(self, name: str) -> ModelEntry:
        """Return the configured model called ``name``."""
        return next(entry for entry in self.model_entries if entry.label == name)

    def cache_dir_for(self, entry: ModelSettings) -> Path:
        """Return where hub downloads of a model are cached: in the data directory by default."""
        return entry.cache_dir or self.data_dir / "models"

    @property
    def lora_dirs(self) -> tuple[Path, ...]:
        """Return the folders LoRAs are read from, the main one first (it wins name clashes)."""
        return (self.loras.dir or self.data_dir / "loras", *self.loras.extra_dirs)

    @property
    def outputs_dir(self) -> Path:
        """Return where generated images are saved, one folder per job."""
        return self.data_dir / "outputs"

    @property
    def model_cache_dir(self) -> Path:
        """Return where the default model's hub downloads are cached."""
        return self.cache_dir_for(self.default_model)
