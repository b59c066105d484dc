"""``python -m bot --check``: find out what is wrong from one command, not a traceback.

Each check prints ✔ or ✘ (or – when skipped) with a line of detail, and every ✘ comes with
the fix. Checks run in order and stop at the first one the rest depend on (no config, no
model). Nothing connects to Discord unless a token is set, and the token is never printed.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.app import load_engine, open_database
from bot.config import load_bot_config
from pipeline.compiled import COMPILE_CACHE, cache_state
from pipeline.errors import ConfigError, ModelLoadError
from pipeline.loras import LoraCatalog

if TYPE_CHECKING:
    from pathlib import Path

    from bot.config import BotConfig
    from pipeline.engine import Engine

SKIPPED = None


@dataclass(frozen=True)
class CheckResult:
    """One line of the report."""

    name: str
    passed: bool | None
    detail: str
    fix: str = ""

    def render(self) -> str:
        """Format the line (and the fix under a failure)."""
        mark = "–" if self.passed is SKIPPED else ("✔" if self.passed else "✘")
        line = f"{mark} {self.name:<11} {self.detail}"
        return f"{line}\n  fix: {self.fix}" if self.fix and not self.passed else line


async def run_checks(config_path: Path, token: str) -> list[CheckResult]:
    """Run every check in order and return the report's lines."""
    try:
        config = load_bot_config(config_path)
    except ConfigError as error:
        return [CheckResult("config", False, str(error), "correct the keys named above")]
    results = [CheckResult("config", True, f"{config_path} is valid")]
    results.append(await asyncio.to_thread(_check_data_dir, config))
    results.append(await _check_database(config))
    results.append(await asyncio.to_thread(_check_loras, config))
    if any(entry.compile for entry in config.model_entries):
        cache = config.data_dir / COMPILE_CACHE
        results.append(CheckResult("compile", True, await asyncio.to_thread(cache_state, cache)))
    if config.cluster.backend == "ray":
        results.append(await asyncio.to_thread(_check_cluster, config))
        results.append(await _check_token(token))
        return results  # the replicas load and draw the models, not this machine
    for entry in config.model_entries:
        engine, loaded = await asyncio.to_thread(_load_model, config, entry.label)
        results.append(loaded)
        if engine is not None:
            results.append(await asyncio.to_thread(_check_generation, engine))
        del engine  # one model in memory at a time, however many are configured
    results.append(await _check_token(token))
    return results


def report(results: list[CheckResult]) -> tuple[str, bool]:
    """Return the printed report and whether everything passed."""
    failed = sum(1 for result in results if result.passed is False)
    lines = [result.render() for result in results]
    lines.append("All checks passed." if not failed else f"{failed} check(s) failed.")
    return "\n".join(lines), not failed


def _check_data_dir(config: BotConfig) -> CheckResult:
    """Check that the data directory exists (or can be made) and can be written."""
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config.data_dir):
            pass
    except OSError as error:
        return CheckResult(
            "data dir",
            False,
            f"cannot write to {config.data_dir}: {error.strerror}",
            "give the bot's user write access, or point EASEL_DATA_DIR elsewhere",
        )
    return CheckResult("data dir", True, f"{config.data_dir} is writable")


def _check_loras(config: BotConfig) -> CheckResult:
    """Count the LoRAs found, by family, and name the files that could not be read."""
    catalog = LoraCatalog(config.lora_dirs)
    found = catalog.files()
    candidates = [p for d in config.lora_dirs if d.is_dir() for p in d.glob("*.safetensors")]
    unread = sorted({p.stem for p in candidates} - {lora.name for lora in found})
    families = Counter(lora.family or "unknown family" for lora in found)
    detail = f"{len(found)} found" + (
        f" ({', '.join(f'{n} {family}' for family, n in sorted(families.items()))})"
        if found
        else ""
    )
    if unread:
        return CheckResult(
            "loras",
            False,
            f"{detail}; unreadable: {', '.join(unread)[:300]}",
            "replace or remove those files (they are not LoRA .safetensors files)",
        )
    return CheckResult("loras", True, f"{detail} in {', '.join(map(str, config.lora_dirs))}")


async def _check_database(config: BotConfig) -> CheckResult:
    """Open and migrate the database, and count its jobs."""
    try:
        database = await open_database(config)
    except Exception as error:
        return CheckResult(
            "database",
            False,
            f"{config.database_path}: {error}",
            "restore a backup from <data_dir>/backups, or move the file aside to start afresh",
        )
    try:
        version = await database.schema_version()
        row = await database.fetch_one("SELECT COUNT(*) FROM jobs")
        jobs = row[0] if row else 0
    finally:
        await database.close()
    return CheckResult("database", True, f"schema version {version}, {jobs} job(s) stored")


def _check_cluster(config: BotConfig) -> CheckResult:
    """Find Ray and the cluster ``cluster.address`` names (joined and left, nothing deployed)."""
    from pipeline.cluster.probe import describe_cluster  # noqa: PLC0415 - the optional extra

    try:
        detail = describe_cluster(config.cluster)
    except ModelLoadError as error:
        first, _, fix = str(error).partition("\n")
        return CheckResult("cluster", False, first, fix)
    return CheckResult("cluster", True, detail)


def _load_model(config: BotConfig, name: str) -> tuple[Engine | None, CheckResult]:
    """Load one configured model as the bot would."""
    try:
        engine = load_engine(config, name)
    except ModelLoadError as error:
        first, _, hint = str(error).partition("\n")
        fix = hint or "check the model's path in the config"
        return None, CheckResult(f"model {name}", False, first, fix)
    model = engine.model
    detail = (
        f"{model.family.label}, {model.name} on {model.device} "
        f"({str(model.dtype).removeprefix('torch.')}), loaded in {model.load_seconds:.1f} s"
    )
    return engine, CheckResult(f"model {name}", True, detail)


def _check_generation(engine: Engine) -> CheckResult:
    """Draw one small image end to end."""
    request = replace(engine.parse("a test image --seed 1"), num_images=1)
    request = replace(request, steps=min(request.steps, 4))
    started = time.perf_counter()
    try:
        result = engine.generate(request)
    except Exception as error:
        return CheckResult(
            f"draw {engine.name}",
            False,
            f"drawing a test image failed: {type(error).__name__}: {error}",
            "see the log for the traceback; try dtype: float32 or a memory saver",
        )
    width, height = result.images[0].size
    return CheckResult(
        f"draw {engine.name}",
        True,
        f"drew a {width}×{height} test image in {time.perf_counter() - started:.1f} s",
    )


async def _check_token(token: str) -> CheckResult:
    """Log in to Discord with the token, if one is set, and name the bot it belongs to."""
    if not token:
        return CheckResult("token", SKIPPED, "DISCORD_TOKEN is not set (the bot needs it to run)")
    import discord  # noqa: PLC0415

    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(token)
        application = await client.application_info()
    except discord.LoginFailure:
        return CheckResult(
            "token",
            False,
            "Discord rejected the token in DISCORD_TOKEN",
            "reset the token (Developer Portal → your application → Bot) and set it again",
        )
    except (discord.HTTPException, OSError) as error:
        return CheckResult(
            "token", False, f"could not reach Discord: {error}", "check the network and try again"
        )
    finally:
        await client.close()
    return CheckResult("token", True, f"valid: logged in as {client.user} ({application.name})")
