"""Read ``config.yaml`` with a schema: one set of rules for the engine's view and the bot's.

Unknown keys are refused (with the closest known key suggested), relative paths are relative
to the config file (the schema's validators read ``base_dir`` from the context), and
``EASEL_DATA_DIR`` overrides ``data_dir``. Every way the file can be wrong becomes one
:class:`ConfigError` naming each bad key.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic_core import ErrorDetails

DATA_DIR_ENV = "EASEL_DATA_DIR"
ConfigT = TypeVar("ConfigT", bound=BaseModel)


def read_config_file(path: Path) -> dict[str, Any]:
    """Read the YAML file into a mapping, turning every way it can be unreadable into one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (pass another with --config)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        position = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ConfigError(f"{path}: not valid YAML{position}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return data


def load_config(
    path: Path, schema: type[ConfigT], *, environ: Mapping[str, str] | None = None
) -> ConfigT:
    """Load and validate ``path`` with ``schema``; a :class:`ConfigError` names each bad key."""
    environ = os.environ if environ is None else environ
    path = path.expanduser().resolve()
    data = read_config_file(path)
    override = environ.get(DATA_DIR_ENV, "").strip()
    if override:
        data["data_dir"] = str(Path(override).expanduser().resolve())
    try:
        return schema.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as error:
        lines = [f"  - {_describe(detail, schema)}" for detail in error.errors()]
        raise ConfigError(f"invalid configuration in {path}:\n" + "\n".join(lines)) from None


def unused_sections(path: Path, schema: type[BaseModel]) -> list[str]:
    """List top-level keys of the file that ``schema`` does not read (belonging to other parts)."""
    return sorted(set(read_config_file(path)) - set(schema.model_fields))


def _describe(detail: ErrorDetails, schema: type[BaseModel]) -> str:
    """Turn one pydantic error into ``key.path: what is wrong (got ...)``."""
    key = ".".join(str(part) for part in detail["loc"]) or "(top level)"
    if detail["type"] == "extra_forbidden":
        return f"{key}: unknown key{_suggestion(detail['loc'], schema)}"
    if detail["type"] == "missing":
        return f"{key}: required but missing"
    message = detail["msg"].removeprefix("Value error, ")
    if detail["type"].endswith("_type") or detail["type"].endswith("_parsing"):
        message = f"{message} (got {detail['input']!r:.60})"
    return f"{key}: {message}"


def _section_type(annotation: object) -> type[BaseModel] | None:
    """Return the section class inside ``X``, ``X | None`` or ``tuple[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _section_type(argument)
        if found is not None:
            return found
    return None


def _suggestion(location: tuple[int | str, ...], schema: type[BaseModel]) -> str:
    """Suggest the known key closest to a misspelt one, or list the known keys."""
    model: type[BaseModel] = schema
    for part in location[:-1]:
        if isinstance(part, int):
            continue  # an index into a list of sections
        field = model.model_fields.get(str(part))
        section = _section_type(field.annotation if field else None)
        if section is None:
            return ""
        model = section
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(location[-1]), known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
