"""Configuration: valid files load, and every bad one stops with a message naming the key."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pipeline.config import PipelineConfig, load_config
from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path


def write_config(folder: Path, text: str) -> Path:
    """Write a config file (and an empty model folder beside it) and return its path."""
    (folder / "models" / "m").mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, environ: dict[str, str] | None = None) -> PipelineConfig:
    """Load with an explicit environment, so the machine's own variables never leak in."""
    return load_config(path, PipelineConfig, environ=environ or {})


def error_for(folder: Path, text: str) -> str:
    """Return the ConfigError message for a config text."""
    with pytest.raises(ConfigError) as caught:
        load(write_config(folder, text))
    return str(caught.value)


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolve model.path and data_dir relative to the file, not the working directory."""
    path = write_config(tmp_path, "data_dir: state\nmodel:\n  path: models/m\n")
    monkeypatch.chdir("/")
    config = load(path)
    assert config.model.path == str(tmp_path / "models" / "m")
    assert config.model.source == "folder"
    assert config.data_dir == tmp_path / "state"


def test_environment_variable_overrides_the_data_dir(tmp_path: Path) -> None:
    """Let EASEL_DATA_DIR override data_dir."""
    path = write_config(tmp_path, "data_dir: state\nmodel:\n  path: models/m\n")
    config = load(path, {"EASEL_DATA_DIR": str(tmp_path / "elsewhere")})
    assert config.data_dir == tmp_path / "elsewhere"


def test_hub_ids_are_kept_as_hub_ids(tmp_path: Path) -> None:
    """Keep an org/name that is not a local folder as a hub id."""
    config = load(write_config(tmp_path, "model:\n  path: stabilityai/sd-turbo\n"))
    assert config.model.path == "stabilityai/sd-turbo"
    assert config.model.source == "hub"


def test_model_cache_lives_in_the_data_dir_by_default(tmp_path: Path) -> None:
    """Keep downloaded models under the data directory unless told otherwise."""
    config = load(write_config(tmp_path, "data_dir: d\nmodel:\n  path: models/m\n"))
    assert config.model_cache_dir == tmp_path / "d" / "models"


def test_unknown_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    """Name an unknown key and suggest the closest known one."""
    message = error_for(tmp_path, "model:\n  path: models/m\ngeneration:\n  stpes: 3\n")
    assert "generation.stpes: unknown key" in message
    assert "did you mean 'steps'" in message


def test_wrong_type_is_named_with_the_value(tmp_path: Path) -> None:
    """Name a key of the wrong type and show what was given."""
    message = error_for(tmp_path, "model:\n  path: models/m\ngeneration:\n  steps: many\n")
    assert "generation.steps" in message
    assert "many" in message


def test_out_of_range_value_is_named(tmp_path: Path) -> None:
    """Name a key whose value is out of range."""
    message = error_for(tmp_path, "model:\n  path: models/m\ngeneration:\n  guidance: 99\n")
    assert "generation.guidance" in message
    assert "30" in message


def test_missing_model_path_is_named(tmp_path: Path) -> None:
    """Name model.path when the model folder does not exist."""
    message = error_for(tmp_path, "model:\n  path: ./models/absent\n")
    assert "model.path" in message
    assert "no such file or folder" in message


def test_absent_model_key_is_named(tmp_path: Path) -> None:
    """Name the model section when it is missing altogether."""
    assert "model: required but missing" in error_for(tmp_path, "data_dir: d\n")


def test_unknown_sampler_is_named_with_the_choices(tmp_path: Path) -> None:
    """Name generation.sampler and list the samplers there are."""
    message = error_for(tmp_path, "model:\n  path: models/m\ngeneration:\n  sampler: warp\n")
    assert "generation.sampler" in message
    assert "DPM++ 2M Karras" in message


def test_bad_device_is_named(tmp_path: Path) -> None:
    """Name model.device when it is not a device spelling."""
    assert "model.device" in error_for(tmp_path, "model:\n  path: models/m\n  device: gpu0\n")


def test_default_steps_above_the_limit_are_refused(tmp_path: Path) -> None:
    """Refuse default steps above max_steps."""
    message = error_for(
        tmp_path, "model:\n  path: models/m\ngeneration:\n  steps: 80\n  max_steps: 50\n"
    )
    assert "max_steps" in message


def test_invalid_yaml_gives_the_line(tmp_path: Path) -> None:
    """Report a YAML syntax error with its line."""
    assert "line 3" in error_for(tmp_path, "model:\n  path: models/m\n bad: indent\n")


def test_missing_file_says_how_to_pass_another(tmp_path: Path) -> None:
    """Say the file is missing and mention --config."""
    with pytest.raises(ConfigError, match="--config"):
        load(tmp_path / "absent.yaml")
