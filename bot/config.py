"""The bot's configuration: the engine's sections plus the bot's own, validated strictly.

The Discord token is deliberately not a config key: it comes from ``DISCORD_TOKEN`` only, so a
config file can be shared or committed without leaking it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from pipeline.config import PipelineConfig
from pipeline.config_file import load_config
from pipeline.config_paths import Section

if TYPE_CHECKING:
    from pathlib import Path

TOKEN_ENV = "DISCORD_TOKEN"


class DiscordSettings(Section):
    """How the bot presents itself on Discord."""

    guild_ids: tuple[int, ...] = ()
    moderator_role: str | None = None
    progress_interval: float = Field(default=2.0, ge=2.0, le=60.0)
    show_style_text: bool = False  # /info shows a style preset's hidden text, not just its name


class LoggingSettings(Section):
    """What is logged and where."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    to_file: bool = True


class ModerationSettings(Section):
    """Default limits and the image safety policy; moderators change limits per guild."""

    user_per_minute: float = Field(default=6.0, gt=0.0, le=600.0)
    user_burst: int = Field(default=5, ge=1, le=1000)
    guild_per_minute: float = Field(default=0.0, ge=0.0, le=6000.0)
    guild_burst: int = Field(default=20, ge=1, le=10000)
    exempt_moderators: bool = True
    image_check: bool = True
    safety_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    nsfw_channels: Literal["spoiler", "as_is"] = "spoiler"


class StorageSettings(Section):
    """How long generated images are kept, and how often the database is backed up."""

    keep_images_days: float = Field(default=30.0, ge=0.0)
    backup_every_hours: float = Field(default=24.0, ge=0.0)
    backups_kept: int = Field(default=7, ge=1, le=1000)


class BotConfig(PipelineConfig):
    """The whole of ``config.yaml``; unlike the engine's view, unknown sections are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    discord: DiscordSettings = DiscordSettings()
    logging: LoggingSettings = LoggingSettings()
    storage: StorageSettings = StorageSettings()
    moderation: ModerationSettings = ModerationSettings()

    @property
    def database_path(self) -> Path:
        """Return the SQLite file, inside the data directory."""
        return self.data_dir / "easel.db"

    @property
    def inputs_dir(self) -> Path:
        """Return where users' attached images are kept (decoded and re-saved as PNG)."""
        return self.data_dir / "inputs"

    @property
    def backups_dir(self) -> Path:
        """Return where scheduled database backups go."""
        return self.data_dir / "backups"

    @property
    def heartbeat_path(self) -> Path:
        """Return the file the running bot refreshes for health checks."""
        return self.data_dir / "heartbeat.json"

    @property
    def logs_dir(self) -> Path:
        """Return where log files go."""
        return self.data_dir / "logs"


def load_bot_config(path: Path) -> BotConfig:
    """Load and validate ``config.yaml`` for the bot; raise ConfigError naming each bad key."""
    return load_config(path, BotConfig)
