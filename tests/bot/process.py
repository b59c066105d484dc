"""Start ``python -m bot`` as a real process pointed at the emulator.

The child process is the unmodified bot. The only change is a ``sitecustomize`` module on its
path that points discord.py's three base URLs at the emulator, exactly as ``install()`` does
in-process.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fakediscord.emulator import DiscordEmulator

ROOT = Path(__file__).parents[2]
LONG = 60
SITECUSTOMIZE = """
import os
import socket
import discord.asset, discord.gateway, discord.http, yarl

discord.http.Route.BASE = os.environ["EASEL_TEST_API"]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["EASEL_TEST_GATEWAY"])
discord.asset.Asset.BASE = os.environ["EASEL_TEST_CDN"]
"""


def write_config(folder: Path, model: Path) -> Path:
    """Write a config for the child: the tiny model on the CPU, data under the test folder."""
    path = folder / "config.yaml"
    path.write_text(
        f"data_dir: data\nmodel:\n  path: {model}\n  device: cpu\n  cpu_threads: 1\n"
        "generation:\n  steps: 4\n  sampler: Euler\nqueue:\n  gather_ms: 5\n",
        encoding="utf-8",
    )
    return path


def ray_config_file(folder: Path, model: Path, address: str) -> Path:
    """Write a config with cluster.backend: ray at ``address``."""
    path = write_config(folder, model)
    text = path.read_text(encoding="utf-8")
    path.write_text(f"{text}cluster:\n  backend: ray\n  address: '{address}'\n", encoding="utf-8")
    return path


def unused_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def start_bot(
    emulator: DiscordEmulator,
    folder: Path,
    model: Path,
    token: str | None,
    *arguments: str,
    config: Path | None = None,
) -> asyncio.subprocess.Process:
    """Start ``python -m bot [arguments]`` pointed at the emulator (``config`` or the tiny one)."""
    (folder / "site").mkdir(exist_ok=True)
    (folder / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    environment = {
        **os.environ,
        "PYTHONPATH": f"{folder / 'site'}{os.pathsep}{ROOT}",
        "EASEL_TEST_API": emulator.api_url,
        "EASEL_TEST_GATEWAY": emulator.gateway.ws_url,
        "EASEL_TEST_CDN": f"{emulator.base_url}/cdn",
    }
    environment.pop("DISCORD_TOKEN", None)
    if token is not None:
        environment["DISCORD_TOKEN"] = token
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config or write_config(folder, model)),
        *arguments,
        cwd=folder,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
