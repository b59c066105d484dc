"""Configuration: valid files load, and every bad one stops with a message naming the key."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pipeline.config import PipelineConfig, model_label
from pipeline.config_file import load_config
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


# Several models ------------------------------------------------------------------------------


def two_models(folder: Path, first: str = "", second: str = "") -> str:
    """Return a models: list of two entries (folders m and n), with extra lines for each."""
    (folder / "models" / "n").mkdir(parents=True, exist_ok=True)
    return (
        f"models:\n  - name: a\n    path: models/m\n{first}"
        f"  - name: b\n    path: models/n\n{second}"
    )


def test_a_models_list_parses_with_its_names(tmp_path: Path) -> None:
    """Read every entry of models: by name, the first being the default."""
    config = load(write_config(tmp_path, two_models(tmp_path, second="    steps: 12\n")))
    assert [entry.label for entry in config.model_entries] == ["a", "b"]
    assert config.default_model.label == "a"
    assert config.model_named("b").path == str(tmp_path / "models" / "n")
    assert config.model_named("b").steps == 12


def test_the_model_shortcut_names_itself_after_its_folder(tmp_path: Path) -> None:
    """Name a model: given without a name after the last part of its path."""
    config = load(write_config(tmp_path, "model:\n  path: models/m\n"))
    assert [entry.label for entry in config.model_entries] == ["m"]
    assert config.default_model is config.model


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/srv/models/easel-tiny", "easel-tiny"),
        ("/srv/models/easel-tiny/", "easel-tiny"),
        ("/srv/models/dreamshaper_8.safetensors", "dreamshaper_8"),
        ("/srv/models/Old Model.CKPT", "Old-Model"),
        ("stabilityai/sd-turbo", "sd-turbo"),
    ],
)
def test_model_label_takes_the_folder_file_stem_or_hub_name(path: str, label: str) -> None:
    """Derive a model's name from its folder, its file's stem or its hub id's last part."""
    assert model_label(path) == label


def test_both_model_and_models_are_refused(tmp_path: Path) -> None:
    """Refuse a file that gives both model: and models:."""
    text = "model:\n  path: models/m\n" + two_models(tmp_path)
    assert "not both" in error_for(tmp_path, text)


def test_an_empty_models_list_counts_as_no_model(tmp_path: Path) -> None:
    """Say the model is missing when models: is an empty list."""
    assert "model: required but missing" in error_for(tmp_path, "models: []\n")


def test_an_unnamed_list_entry_is_refused_by_its_number(tmp_path: Path) -> None:
    """Name the entry of models: that has no name."""
    (tmp_path / "models" / "n").mkdir(parents=True)
    text = "models:\n  - name: a\n    path: models/m\n  - path: models/n\n"
    assert "models: entry 2 needs a name" in error_for(tmp_path, text)


def test_duplicate_model_names_are_refused(tmp_path: Path) -> None:
    """Refuse two entries of one name, naming it."""
    message = error_for(tmp_path, two_models(tmp_path).replace("name: b", "name: a"))
    assert "same name" in message
    assert "(a)" in message


def test_names_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    """Refuse names that --model, which ignores case, could not tell apart."""
    message = error_for(tmp_path, two_models(tmp_path).replace("name: b", "name: A"))
    assert "same name" in message


def test_two_defaults_are_refused(tmp_path: Path) -> None:
    """Refuse more than one entry saying default: true."""
    text = two_models(tmp_path, "    default: true\n", "    default: true\n")
    assert "only one entry may say default: true" in error_for(tmp_path, text)


def test_default_true_picks_the_default_model(tmp_path: Path) -> None:
    """Make the entry saying default: true the default, wherever it is in the list."""
    text = "data_dir: d\n" + two_models(tmp_path, second="    default: true\n")
    config = load(write_config(tmp_path, text))
    assert config.default_model.label == "b"
    assert config.model_cache_dir == tmp_path / "d" / "models"


def test_a_misspelt_key_in_a_models_entry_gets_a_suggestion(tmp_path: Path) -> None:
    """Name the entry's misspelt key and suggest the closest known one."""
    message = error_for(tmp_path, two_models(tmp_path, second="    stpes: 12\n"))
    assert "models.1.stpes: unknown key" in message
    assert "did you mean 'steps'" in message


def test_a_bad_model_name_is_named(tmp_path: Path) -> None:
    """Refuse a model name users could not type, naming the entry."""
    message = error_for(tmp_path, two_models(tmp_path).replace("name: b", "name: my model"))
    assert "models.1.name" in message


def test_an_unknown_entry_sampler_is_named(tmp_path: Path) -> None:
    """Refuse an entry's sampler that does not exist, listing the samplers."""
    message = error_for(tmp_path, two_models(tmp_path, "    sampler: warp\n"))
    assert "models.0.sampler" in message
    assert "Euler a" in message


@pytest.mark.parametrize(("value", "valid"), [(0, False), (1, True), (64, True), (65, False)])
def test_max_loaded_models_is_bounded(tmp_path: Path, value: int, valid: bool) -> None:
    """Accept from 1 to 64 loaded models per worker, and name the key otherwise."""
    text = f"model:\n  path: models/m\nqueue:\n  max_loaded_models: {value}\n"
    if valid:
        assert load(write_config(tmp_path, text)).queue.max_loaded_models == value
    else:
        assert "queue.max_loaded_models" in error_for(tmp_path, text)
