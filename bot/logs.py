"""Logging set-up: one line per event, to stderr and a rotating file in the data directory.

A filter on every handler replaces the Discord token wherever it might appear, messages and
tracebacks included, so no log line can leak it.
"""

from __future__ import annotations

import logging
import logging.handlers
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import BotConfig

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[token redacted]"


class RedactSecret(logging.Filter):
    """Replace a secret in a record's message, arguments and exception text."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        if not self._secret:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = message.replace(self._secret, REDACTED)
        record.args = None
        if record.exc_text:
            record.exc_text = record.exc_text.replace(self._secret, REDACTED)
        return True


def setup_logging(config: BotConfig, secret: str) -> None:
    """Send log lines to stderr and, if configured, to <data_dir>/logs/easel.log."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if config.logging.to_file:
        config.logs_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                config.logs_dir / "easel.log", maxBytes=10 * 1024 * 1024, backupCount=5
            )
        )
    redact = RedactSecret(secret)
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(redact)
    logging.basicConfig(level=config.logging.level, handlers=handlers, force=True)
    # discord.py's HTTP layer narrates every request at DEBUG; keep it to warnings.
    logging.getLogger("discord.http").setLevel(logging.WARNING)
