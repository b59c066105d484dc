"""Measure how fast /imagine is acknowledged while the GPU worker is busy.

100 concurrent /imagine from 20 users go through the project's Discord emulator, first to a
bare discord.py bot that only defers, then to Easel while its worker is generating; rounds
alternate so both see the same machine. It prints p50/p99/max of the time from
INTERACTION_CREATE to the defer callback (emulator clock) for each, their p99 ratio, and
the end-to-end time of one /imagine divided by the raw engine time of the same job (pairs run
back to back), with the image-safety check (as configured) and without it::

    python benchmarks/ack_latency.py [--config config.yaml] [--rounds 2] [--repeats 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import discord

from bot.config import BotConfig
from pipeline.config_file import load_config
from pipeline.engine import Engine
from tests.bot.harness import is_result, running_easel
from tests.fakediscord.emulator import DiscordEmulator

USERS = 20
INVOCATIONS = 100


class BareBot(discord.Client):
    """A discord.py bot with one /imagine that only defers: the floor to compare against."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.none())
        self.tree = discord.app_commands.CommandTree(self)

        @self.tree.command(name="imagine", description="Only defers")
        async def imagine(interaction: discord.Interaction, prompt: str) -> None:
            await interaction.response.defer(thinking=True)

    async def setup_hook(self) -> None:
        """Publish the command."""
        await self.tree.sync()


async def burst(emulator: DiscordEmulator, members: list[Any]) -> list[float]:
    """Fire the invocations at once and return each one's time to acknowledgement."""
    handles = await asyncio.gather(
        *(
            emulator.invoke_slash(
                "imagine", {"prompt": f"a red circle {i}"}, user=members[i % len(members)]
            )
            for i in range(INVOCATIONS)
        )
    )
    await asyncio.gather(*(handle.wait_for_response(timeout=30) for handle in handles))
    return [handle.response_delay or 0.0 for handle in handles]


async def bare_round() -> list[float]:
    """Measure the bare bot."""
    emulator = DiscordEmulator()
    await emulator.start()
    try:
        with emulator.install():
            members = [emulator.create_member(f"user{i}") for i in range(USERS)]
            async with emulator.running(BareBot()):
                return await burst(emulator, members)
    finally:
        await emulator.stop()


async def easel_round(engine: Engine, base: BotConfig) -> list[float]:
    """Measure Easel while a long job occupies the worker (fresh data each round)."""
    emulator = DiscordEmulator()
    folder = tempfile.TemporaryDirectory()
    config = fresh(base, Path(folder.name))
    await emulator.start()
    try:
        with emulator.install():
            members = [emulator.create_member(f"user{i}") for i in range(USERS)]
            async with running_easel(emulator, engine, config):
                busy = await emulator.invoke_slash("imagine", {"prompt": "busy --steps 60"})
                await busy.wait_for_original(lambda m: "Drawing" in m.content, timeout=60)
                return await burst(emulator, members)
    finally:
        await emulator.stop()
        folder.cleanup()


async def paired_end_to_end_times(
    engine: Engine, base: BotConfig, repeats: int
) -> tuple[list[float], list[float]]:
    """Time /imagine jobs end to end, each followed by the same job on the bare engine.

    Each pair runs back to back, so both halves see the same machine (this VM's speed drifts
    by tens of percent over a minute). The raw run waits until the bot has delivered and is
    idle: an engine serves one thread at a time. Each job comes from its own member, so the
    rate limit never refuses one.
    """
    emulator = DiscordEmulator()
    await emulator.start()
    e2e: list[float] = []
    raw: list[float] = []
    try:
        with emulator.install(), tempfile.TemporaryDirectory() as folder:
            async with running_easel(emulator, engine, fresh(base, Path(folder))) as easel:
                for seed in range(repeats):
                    prompt = f"a yellow star on a purple background --seed {seed}"
                    member = emulator.create_member(f"timed{seed}")
                    handle = await emulator.invoke_slash("imagine", {"prompt": prompt}, user=member)
                    message = await handle.wait_for_original(is_result, timeout=120)
                    e2e.append(message.current.at - handle.created_at)
                    job = await easel.stores.jobs.get(message.custom_ids()[0].split(":")[2])
                    assert job is not None
                    started = time.perf_counter()
                    await asyncio.to_thread(engine.generate, job.request)
                    raw.append(time.perf_counter() - started)
    finally:
        await emulator.stop()
    return e2e, raw


def fresh(base: BotConfig, folder: Path) -> BotConfig:
    """Return the config with its own data directory and room for the burst."""
    return base.model_copy(
        update={
            "data_dir": folder,
            "queue": base.queue.model_copy(update={"max_pending": 500}),
            "logging": base.logging.model_copy(update={"to_file": False}),
        }
    )


def describe(label: str, delays: list[float]) -> float:
    """Print p50, p99 and max in milliseconds; return p99."""
    ordered = sorted(delays)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    over = sum(1 for d in ordered if d > 3.0)
    print(
        f"{label:22s} p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   "
        f"max {ordered[-1] * 1000:7.1f} ms   over 3 s: {over}"
    )
    return p99


async def main() -> None:
    """Run the rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10, help="end-to-end pairs per setting")
    arguments = parser.parse_args()
    config = load_config(arguments.config, BotConfig)
    engine = Engine.from_config(config)
    bare: list[float] = []
    easel: list[float] = []
    for _ in range(arguments.rounds):
        bare += await bare_round()
        easel += await easel_round(engine, config)
    print(f"{INVOCATIONS} concurrent /imagine from {USERS} users x {arguments.rounds} rounds")
    bare_p99 = describe("bare discord.py bot:", bare)
    easel_p99 = describe("Easel, worker busy:", easel)
    print(f"Easel p99 / bare p99: {easel_p99 / bare_p99:.2f} (goal <= 1.5)")
    # The image-safety check is a stage of its own, not bot overhead: show the ratio without it
    # too, so each cost can be seen apart.
    unchecked = config.model_copy(
        update={"moderation": config.moderation.model_copy(update={"image_check": False})}
    )
    for label, settings in (("image check on", config), ("image check off", unchecked)):
        e2e, raw = await paired_end_to_end_times(engine, settings, arguments.repeats)
        pairs = [whole / bare for whole, bare in zip(e2e, raw, strict=True)]
        print(
            f"one /imagine end to end ({label}), {len(e2e)} pairs: median "
            f"{statistics.median(e2e):.3f} s vs raw engine {statistics.median(raw):.3f} s; "
            f"median of paired ratios {statistics.median(pairs):.3f}x "
            f"(fastest {min(e2e):.3f} s vs {min(raw):.3f} s: {min(e2e) / min(raw):.3f}x)"
        )


if __name__ == "__main__":
    asyncio.run(main())
