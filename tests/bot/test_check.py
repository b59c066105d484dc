"""``python -m bot --check``: a ✔/✘ report per item with fixes, and the right exit code.

A few tests run the real command in a child process (the exit code, what it prints, and the
checks that change process-wide state: Ray, the compile cache); the rest run the same checks
in this process, which spares each a fresh interpreter importing torch and diffusers.
"""

from __future__ import annotations

import asyncio
import shutil
from typing import TYPE_CHECKING

from bot.check import report, run_checks
from tests.bot.process import LONG, ray_config_file, start_bot, unused_port, write_config

if TYPE_CHECKING:
    from pathlib import Path

    from tests.fakediscord.emulator import DiscordEmulator


async def check(
    emulator: DiscordEmulator,
    folder: Path,
    model: Path,
    token: str | None,
    *,
    config: Path | None = None,
) -> tuple[int, str]:
    """Run --check (on ``config``, else the tiny model's) and return its exit code and output."""
    process = await start_bot(emulator, folder, model, token, "--check", config=config)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=LONG)
    assert process.returncode is not None
    return process.returncode, stdout.decode() + stderr.decode()


async def check_here(
    emulator: DiscordEmulator,
    folder: Path,
    model: Path,
    token: str | None,
    *,
    config: Path | None = None,
) -> tuple[bool, str]:
    """Run --check's checks in this process; return whether all passed, and the report."""
    path = (config or write_config(folder, model)).resolve()
    with emulator.install():
        text, passed = report(await run_checks(path, token or ""))
    return passed, text


async def test_a_healthy_setup_passes_without_a_token(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Pass every check, skip the token, and connect to nothing."""
    code, output = await check(emulator, tmp_path, tiny_model_dir, token=None)
    assert code == 0
    for name in ("config", "data dir", "database", "model tiny-sd", "draw tiny-sd"):
        assert f"✔ {name}" in output
    assert "– token" in output
    assert not emulator.identifies
    assert "All checks passed." in output


async def test_a_valid_token_is_verified_with_discord(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Log in with the token and name the bot, without printing the token."""
    passed, output = await check_here(emulator, tmp_path, tiny_model_dir, token=emulator.token)
    assert passed
    assert "✔ token" in output
    assert emulator.token not in output


async def test_a_rejected_token_fails_with_the_fix(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Mark the token ✘ with how to fix it, exit non-zero, and never print it."""
    secret = "definitely-not-the-token-42"
    passed, output = await check_here(emulator, tmp_path, tiny_model_dir, token=secret)
    assert not passed
    assert "✘ token" in output
    assert "fix: reset the token" in output
    assert secret not in output


async def test_a_missing_model_fails_with_the_reason(
    emulator: DiscordEmulator, tmp_path: Path
) -> None:
    """Stop at the config with ✘ naming model.path when the model is missing."""
    passed, output = await check_here(emulator, tmp_path, tmp_path / "absent-model", token=None)
    assert not passed
    assert "✘ config" in output
    assert "model.path" in output


async def test_every_configured_model_is_loaded_and_the_failing_one_named(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Load and test-draw each model of models:, naming the one that fails and why."""
    unsupported = tmp_path / "sd3"
    unsupported.mkdir()
    (unsupported / "model_index.json").write_text(
        '{"_class_name": "StableDiffusion3Pipeline"}', encoding="utf-8"
    )
    config = tmp_path / "two-models.yaml"
    config.write_text(
        "data_dir: data\nmodels:\n"
        f"  - name: tiny\n    path: {tiny_model_dir}\n    device: cpu\n    cpu_threads: 1\n"
        f"  - name: three\n    path: {unsupported}\n    device: cpu\n",
        encoding="utf-8",
    )
    passed, output = await check_here(emulator, tmp_path, tiny_model_dir, None, config=config)
    assert not passed
    assert "✔ model tiny" in output
    assert "✔ draw tiny" in output
    assert "✘ model three" in output
    assert "Stable Diffusion 3" in output


async def test_loras_are_counted_by_family(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path, lora_dir: Path
) -> None:
    """Report how many LoRAs were found, by family."""
    (tmp_path / "data" / "loras").mkdir(parents=True)
    shutil.copy(lora_dir / "xl-ink.safetensors", tmp_path / "data" / "loras")
    passed, output = await check_here(emulator, tmp_path, tiny_model_dir, token=None)
    assert passed
    assert "✔ loras" in output
    assert "1 found (1 sdxl)" in output


async def test_an_unreadable_lora_file_fails_naming_it(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Name a .safetensors file in the LoRA folder that is not a LoRA, with the fix."""
    (tmp_path / "data" / "loras").mkdir(parents=True)
    (tmp_path / "data" / "loras" / "broken.safetensors").write_bytes(b"not a tensor file")
    passed, output = await check_here(emulator, tmp_path, tiny_model_dir, token=None)
    assert not passed
    assert "✘ loras" in output
    assert "unreadable: broken" in output


async def test_an_unreachable_ray_cluster_fails_naming_the_address_and_the_fix(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Fail the cluster line when nothing answers at cluster.address, and load no model here."""
    address = f"127.0.0.1:{unused_port()}"
    config = ray_config_file(tmp_path, tiny_model_dir, address)
    code, output = await check(emulator, tmp_path, tiny_model_dir, None, config=config)
    assert code != 0
    assert f"✘ cluster     cluster.address {address}: cannot reach Ray" in output
    assert "fix: start the head node (ray start --head)" in output
    assert "model tiny-sd" not in output


async def test_a_local_ray_instance_is_described_without_starting_it(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Pass the cluster line for address local: Ray found, on 127.0.0.1, replicas per model."""
    config = ray_config_file(tmp_path, tiny_model_dir, "local")
    code, output = await check(emulator, tmp_path, tiny_model_dir, None, config=config)
    assert code == 0
    assert "✔ cluster" in output
    assert "starts a Ray instance on 127.0.0.1 at start-up, 1 replica(s) per model" in output


async def test_a_compiled_model_reports_its_compile_cache(
    emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Say where the compile cache is and what it holds, for a model with compile: true."""
    config = write_config(tmp_path, tiny_model_dir)
    text = config.read_text(encoding="utf-8").replace(
        "  device: cpu\n", "  device: cpu\n  compile: true\n"
    )
    config.write_text(text, encoding="utf-8")
    code, output = await check(emulator, tmp_path, tiny_model_dir, None, config=config)
    assert code == 0
    assert "✔ compile" in output
    assert "compile-cache" in output
