"""What the emulator tests of /settings, /prefer and /style share: a config, a run, a job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.bot.harness import bot_config, is_result

if TYPE_CHECKING:
    from pathlib import Path

    from bot.app import EaselApp
    from bot.config import BotConfig
    from pipeline.jobs import JobRecord
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import ChannelRecord, MemberRecord, MessageRecord

LONG = 60
STYLES = {
    "ink": {"prompt": "ink drawing of {prompt}"},
    "oil": {"prompt": "oil painting of {prompt}"},
}


def configured(tmp_path: Path, tiny_model_dir: Path, **sections: object) -> BotConfig:
    """Configure two models (the tiny one under two names; tiny-a the default) and two styles."""
    common = {"path": str(tiny_model_dir), "device": "cpu", "cpu_threads": 1}
    models = [{"name": "tiny-a", **common}, {"name": "tiny-b", **common}]
    return bot_config(tmp_path, tiny_model_dir, models=models, styles=STYLES, **sections)


async def run(
    emulator: DiscordEmulator,
    command: str,
    options: dict[str, object],
    user: MemberRecord | None = None,
    channel: ChannelRecord | None = None,
) -> MessageRecord:
    """Invoke a command (as a member by default) and return its private answer."""
    handle = await emulator.invoke_slash(
        command, options, user=user, channel=channel, ignore_command_permissions=True
    )
    return await handle.wait_for_original()


async def drawn(
    emulator: DiscordEmulator,
    easel: EaselApp,
    prompt: str,
    channel: ChannelRecord | None = None,
    **options: object,
) -> JobRecord:
    """Run /imagine as the member, wait for the grid, and return its job."""
    handle = await emulator.invoke_slash("imagine", {"prompt": prompt, **options}, channel=channel)
    message = await handle.wait_for_original(is_result, timeout=LONG)
    job = await easel.stores.jobs.get(message.custom_ids()[0].split(":")[2])
    assert job is not None
    return job
