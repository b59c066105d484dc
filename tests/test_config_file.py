"""The repository's own config.yaml: valid for every part that reads it, and self-contained."""

from __future__ import annotations

from pathlib import Path

from bot.config import BotConfig
from pipeline.config_file import load_config

ROOT = Path(__file__).parents[1]


def test_the_shipped_config_file_is_valid_and_points_at_the_built_in_model() -> None:
    """Load config.yaml with the bot's schema and find the built-in model it names."""
    config = load_config(ROOT / "config.yaml", BotConfig, environ={})
    assert config.model.path == str(ROOT / "models" / "easel-tiny")
    assert (ROOT / "models" / "easel-tiny" / "model_index.json").is_file()
    assert config.data_dir == ROOT / "data"
