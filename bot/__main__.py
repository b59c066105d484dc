"""``python -m bot [--config PATH]``: parse the command line, build Easel, run it until stopped.

Everything is built by the composition root, :mod:`bot.app`; this module only chooses what
to run and turns the outcome into an exit code.

The token comes only from the DISCORD_TOKEN environment variable. SIGTERM and SIGINT stop the
bot cleanly: running jobs finish or are interrupted within the grace period (and run again at
the next start), the gateway closes, the database closes, and the exit code is 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from bot.config import TOKEN_ENV, BotConfig, load_bot_config
from pipeline.errors import ConfigError, ModelLoadError

logger = logging.getLogger("bot")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Run Easel, the self-hosted image bot, on Discord.",
        epilog=f"The bot's token is read from the {TOKEN_ENV} environment variable.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config.yaml"),
        help="config file (default: %(default)s)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="check the config, database, model, a test image and the token, then exit",
    )
    parser.add_argument(
        "--health",
        action="store_true",
        help="report whether the running bot is connected (for container health checks)",
    )
    parser.add_argument(
        "--backup",
        type=Path,
        metavar="PATH",
        help="copy the database to PATH (safe while the bot runs) and exit",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the bot until stopped (or one of the one-shot commands); return the exit code."""
    arguments = build_parser().parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if arguments.backup is not None:
        return backup(arguments.config, arguments.backup)
    if arguments.health:
        return health(arguments.config)
    if arguments.check:
        return check(arguments.config, token)
    return serve(arguments.config, token)


def serve(config_path: Path, token: str) -> int:
    """Run the bot until a stop signal."""
    if not token:
        print(
            f"error: set the {TOKEN_ENV} environment variable to your bot's token "
            "(Discord Developer Portal → your application → Bot → Reset Token).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from bot.app import configure  # noqa: PLC0415 - heavy imports only when serving

    try:
        config = configure(config_path, token)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(run(config, token))
    except ModelLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE


def health(config_path: Path) -> int:
    """Print whether the running bot is healthy; exit 0 if so, 1 if not."""
    try:
        config = load_bot_config(config_path)
    except ConfigError as error:
        print(f"unhealthy: {error}")
        return EXIT_FAILURE
    from bot.health import read_health  # noqa: PLC0415

    healthy, reason = read_health(config.heartbeat_path)
    print(("healthy: " if healthy else "unhealthy: ") + reason)
    return EXIT_OK if healthy else EXIT_FAILURE


def check(config_path: Path, token: str) -> int:
    """Run the start-up checks, print the report, and return 0 only if all passed."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.basicConfig(level=logging.WARNING)
    from bot.check import report, run_checks  # noqa: PLC0415

    print(f"Checking Easel with {config_path} …", flush=True)
    text, passed = report(asyncio.run(run_checks(config_path.resolve(), token)))
    print(text)
    return EXIT_OK if passed else EXIT_FAILURE


def backup(config_path: Path, destination: Path) -> int:
    """Copy the database to ``destination`` with SQLite's online backup API."""
    try:
        config = load_bot_config(config_path)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not config.database_path.exists():
        print(f"error: there is no database at {config.database_path} yet", file=sys.stderr)
        return EXIT_FAILURE
    target = destination.resolve()

    async def copy() -> None:
        from bot.store.database import Database  # noqa: PLC0415

        database = await Database.open(config.database_path)
        try:
            await database.backup(target)
        finally:
            await database.close()

    asyncio.run(copy())
    print(f"backed up {config.database_path} to {target}")
    return EXIT_OK


async def run(config: BotConfig, token: str) -> int:
    """Start everything, wait for a stop signal or a fatal error, and stop cleanly."""
    import discord  # noqa: PLC0415 - heavy imports only once the config is valid

    from bot.app import build_app, load_engines  # noqa: PLC0415

    engines = await asyncio.to_thread(load_engines, config)
    app = await build_app(config, engines)
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
        connection = asyncio.create_task(app.bot.start(token))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([connection, stopping], return_when=asyncio.FIRST_COMPLETED)
        if connection.done() and connection.exception() is not None:
            error = connection.exception()
            await app.shutdown()
            if isinstance(error, discord.LoginFailure):
                print(
                    f"error: Discord rejected the token in {TOKEN_ENV}; reset it in the "
                    "Developer Portal (your application → Bot) and try again.",
                    file=sys.stderr,
                )
                return EXIT_FAILURE
            logger.error("the bot stopped with an error", exc_info=error)
            return EXIT_FAILURE
        logger.info("stopping: finishing or interrupting running jobs")
        await app.shutdown()
        stopping.cancel()
        await asyncio.gather(connection, return_exceptions=True)
        logger.info("stopped cleanly")
        return EXIT_OK
    finally:
        await app.close()


if __name__ == "__main__":
    sys.exit(main())
