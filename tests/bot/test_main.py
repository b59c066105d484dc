"""``python -m bot`` as a user runs it: a real process against the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from typing import TYPE_CHECKING

from tests.bot.harness import is_result
from tests.bot.process import LONG, ROOT, ray_config_file, start_bot, unused_port, write_config

if TYPE_CHECKING:
    from pathlib import Path

    from tests.fakediscord.emulator import DiscordEmulator


async def test_the_bot_runs_answers_and_stops_cleanly_on_sigterm(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Start, sync, draw a grid for /imagine, and exit 0 within seconds of SIGTERM."""
    process = await start_bot(emulator, tmp_path, tiny_model_dir, emulator.token)
    try:
        await emulator.wait_until_ready(timeout=LONG)
        await emulator.state.notifier.wait_for(
            lambda: True if emulator.global_commands else None, timeout=LONG, what="the sync"
        )
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle --seed 1"})
        await handle.wait_for_original(is_result, timeout=LONG)
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0
    log = stderr.decode()
    assert "stopped cleanly" in log
    job_id = (await handle.wait_for_original(is_result)).custom_ids()[0].split(":")[2]
    assert f"job {job_id} accepted" in log
    assert f"job {job_id} done in" in log
    assert f"guild {emulator.guild.id}, user {emulator.member.user.id}" in log
    assert emulator.token not in log
    assert emulator.token not in (tmp_path / "data" / "logs" / "easel.log").read_text()
    emulator.assert_no_errors()


async def test_a_missing_token_is_one_clear_line(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Exit non-zero with one line naming DISCORD_TOKEN when it is not set."""
    process = await start_bot(emulator, tmp_path, tiny_model_dir, token=None)
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=LONG)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode != 0
    assert len(lines) == 1
    assert "DISCORD_TOKEN" in lines[0]


async def test_a_rejected_token_is_one_clear_line_and_never_printed(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Exit non-zero saying Discord rejected the token, without printing it."""
    secret = "not-the-right-token-0123456789"
    process = await start_bot(emulator, tmp_path, tiny_model_dir, token=secret)
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=LONG)
    text = stderr.decode()
    assert process.returncode != 0
    assert "rejected the token" in text
    assert secret not in text
    assert "Traceback" not in text


async def test_backup_copies_the_database_without_a_token(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Copy the database with --backup PATH, needing neither a token nor the model."""
    config = write_config(tmp_path, tiny_model_dir)
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "easel.db") as database:
        database.execute("CREATE TABLE kept (x)")
    target = tmp_path / "copy.db"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "--backup",
        str(target),
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, _stderr = await asyncio.wait_for(process.communicate(), timeout=LONG)
    assert process.returncode == 0
    assert "backed up" in stdout.decode()
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT name FROM sqlite_master WHERE name = 'kept'").fetchone()


async def test_an_unreachable_ray_cluster_stops_the_start_up_with_one_line(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Exit non-zero with one line naming cluster.address when Ray does not answer there."""
    config = ray_config_file(tmp_path, tiny_model_dir, f"127.0.0.1:{unused_port()}")
    process = await start_bot(emulator, tmp_path, tiny_model_dir, "token", config=config)
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=LONG)
    lines = [line for line in stderr.decode().strip().splitlines() if line.startswith("error")]
    assert process.returncode != 0
    assert len(lines) == 1
    assert "cluster.address 127.0.0.1:" in lines[0]
    assert "Traceback" not in stderr.decode()
