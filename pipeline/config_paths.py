"""How config values that name files resolve: against the config file's folder, or as hub ids.

Shared by every section that names a model, a folder or a file, in the engine's config and
the bot's, so a relative path means the same everywhere: relative to ``config.yaml``.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationInfo

LOCAL_CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class Section(BaseModel):
    """A config section: immutable, and unknown keys are an error rather than silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def base_dir(info: ValidationInfo) -> Path:
    """Return the folder relative paths are resolved against: the config file's, else the cwd."""
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("base_dir")
    return Path(base) if base is not None else Path.cwd()


def looks_local(value: str) -> bool:
    """Tell a filesystem path from a hub id such as ``stabilityai/sd-turbo``."""
    return (
        value.startswith((".", "/", "~"))
        or value.lower().endswith(LOCAL_CHECKPOINT_SUFFIXES)
        or not _HUB_ID.match(value)
    )


def resolve_model_reference(value: str, info: ValidationInfo, *, must_exist: bool) -> str:
    """Resolve a local path against the config folder; leave a hub id as it is."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    candidate = (base_dir(info) / Path(value).expanduser()).resolve()
    if candidate.exists():
        return str(candidate)
    if looks_local(value):
        if must_exist:
            raise ValueError(f"no such file or folder: {candidate}")
        return str(candidate)
    return value
