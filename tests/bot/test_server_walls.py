"""Servers are walls: a moderator of one server sees, inspects and changes nothing of another's.

Every command and every button is walked from server B against server A's jobs (one done,
one running, one waiting); a command or button added later without a line here fails the walk.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.buttons import ButtonAction, Press
from bot.edit_forms import region_form, zoom_form
from tests.bot.harness import bot_config, is_result, running_easel
from tests.pipeline.faulty_engine import FaultyEngine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from bot.app import EaselApp
    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import ChannelRecord, MemberRecord, MessageRecord

LONG = 30
MODERATOR = discord.Permissions(manage_messages=True)
SECRET = "alice-secret"
FORMS = (ButtonAction.VARY_REGION, ButtonAction.CUSTOM_ZOOM)  # they answer with a form


@dataclass
class Walled:
    """Server A's jobs, and server B's moderator and channel."""

    easel: EaselApp
    held: FaultyEngine
    grid: MessageRecord
    done_id: str
    running_id: str
    waiting_id: str
    moderator: MemberRecord
    channel: ChannelRecord

    @property
    def a_ids(self) -> tuple[str, str, str]:
        """Return the ids of server A's jobs."""
        return (self.done_id, self.running_id, self.waiting_id)


def job_of(message: MessageRecord) -> str:
    """Return the job id a result's buttons carry."""
    return message.custom_ids()[0].split(":")[2]


@asynccontextmanager
async def walled(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> AsyncIterator[Walled]:
    """Run the bot in two servers: A with three of alice's jobs, B with its own moderator."""
    other = emulator.create_guild("Server B")
    channel = emulator.create_channel("b-general", guild=other)
    moderator = emulator.create_member("bob", permissions=MODERATOR, guild=other)
    held = FaultyEngine(tiny_engine)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held) as easel:
        done = await emulator.invoke_slash("imagine", {"prompt": f"{SECRET} done"})
        grid = await done.wait_for_original(is_result, timeout=LONG)
        held.hold_after_first_step = True
        await emulator.invoke_slash("imagine", {"prompt": f"{SECRET} running"})
        await asyncio.to_thread(held.holding.wait, LONG)
        waiting = await emulator.invoke_slash("imagine", {"prompt": f"{SECRET} waiting"})
        await waiting.wait_for_original(lambda m: "Queued" in m.content, timeout=LONG)
        running_id, waiting_id = (entry.job_id for entry in easel.scheduler.entries())
        try:
            yield Walled(
                easel, held, grid, job_of(grid), running_id, waiting_id, moderator, channel
            )
        finally:
            held.release()


def leaks(walls: Walled, text: str) -> list[str]:
    """Return what of server A's jobs a text shows."""
    return [piece for piece in (SECRET, *walls.a_ids) if piece in text]


async def test_no_command_in_one_server_shows_or_changes_another_servers_jobs(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Walk every command as server B's moderator; nothing of server A shows or changes."""
    async with walled(emulator, tiny_engine, tiny_model_dir, tmp_path) as walls:
        alice = emulator.member
        commands: dict[str, dict[str, object]] = {
            "info": {"job": walls.done_id},
            "queue": {},
            "help": {},
            "models": {},
            "loras": {},
            "stats": {},
            "filter add": {"pattern": "alice"},
            "filter remove": {"number": 99},
            "filter list": {},
            "filter test": {"text": SECRET},
            "filter defaults": {"state": "on"},
            "limits show": {},
            "limits set": {"per_minute": 0.1, "burst": 1},
            "ban": {"user": alice, "reason": "testing walls"},
            "unban": {"user": alice},
            "audit": {},
            "modlog": {"channel": walls.channel},
            "settings show": {},
            "settings reset": {"where": "server"},
            "settings server": {"max_steps": 1, "negative": "bobs-rule", "image_prompts": False},
            "settings channel": {"style": "bobs"},  # refused: no such style in server B yet
            "prefer set": {"aspect": "2:1"},
            "prefer reset": {},
            "prefer show": {},
            "style add": {"name": "bobs", "prompt": "{prompt}, bob's way"},
            "style remove": {"name": "nothing"},
            "style list": {},
            "imagine": {"prompt": "bob's own"},  # last: server B's own job changes its queue
        }
        registered = set()
        for command in emulator.global_commands:
            subcommands = [o["name"] for o in command.options if o.get("type") == 1]
            registered |= {f"{command.name} {s}" for s in subcommands} or {command.name}
        assert registered == set(commands)
        answers = {}
        for name, options in commands.items():
            handle = await emulator.invoke_slash(
                name, options, user=walls.moderator, channel=walls.channel
            )
            answers[name] = await handle.wait_for_original(lambda m: not m.loading, timeout=LONG)
        statuses = [walls.easel.scheduler.status_of(job) for job in walls.a_ids[1:]]
        in_a = walls.easel.settings.for_job(emulator.guild.id, emulator.channel.id, alice.user.id)
        styles_in_a = walls.easel.settings.styles.names(emulator.guild.id)
        filtered = await emulator.invoke_slash("imagine", {"prompt": "alice draws again"})
        still_allowed = await filtered.wait_for_original(lambda m: not m.loading, timeout=LONG)
    texts = {name: answer.content + str(answer.embeds) for name, answer in answers.items()}
    texts["info"] = texts["info"].replace(walls.done_id, "")  # the id bob typed, repeated
    shown = {name: leaks(walls, text) for name, text in texts.items()}
    assert shown == {name: [] for name in commands}
    assert "There is no job" in answers["info"].content
    assert "0 running, 0 waiting" in answers["queue"].content
    assert "0 waiting job(s) canceled" in answers["ban"].content
    assert statuses == ["running", "pending"]
    assert not still_allowed.ephemeral  # server B's filter and ban do not reach server A
    assert in_a.defaults.enforced_negative == ""  # nor its settings and styles
    assert (in_a.defaults.max_steps, in_a.image_prompts) == (None, True)
    assert "bobs" not in styles_in_a
    assert not walls.grid.deleted


async def test_no_button_in_one_server_acts_on_another_servers_jobs(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Press, in server B, a button of every action carrying server A's jobs: all refused."""
    async with walled(emulator, tiny_engine, tiny_model_dir, tmp_path) as walls:
        presses = {
            ButtonAction.UPSCALE: Press(ButtonAction.UPSCALE, walls.done_id, "1"),
            ButtonAction.VARY_STRONG: Press(ButtonAction.VARY_STRONG, walls.done_id, "1"),
            ButtonAction.VARY: Press(ButtonAction.VARY, walls.done_id, "subtle"),
            ButtonAction.UPSCALE_AGAIN: Press(
                ButtonAction.UPSCALE_AGAIN, walls.done_id, "creative"
            ),
            ButtonAction.ZOOM: Press(ButtonAction.ZOOM, walls.done_id, "2"),
            ButtonAction.PAN: Press(ButtonAction.PAN, walls.done_id, "left"),
            ButtonAction.SQUARE: Press(ButtonAction.SQUARE, walls.done_id),
            ButtonAction.REROLL: Press(ButtonAction.REROLL, walls.done_id),
            ButtonAction.VARY_REGION: Press(ButtonAction.VARY_REGION, walls.done_id),
            ButtonAction.CUSTOM_ZOOM: Press(ButtonAction.CUSTOM_ZOOM, walls.done_id),
            ButtonAction.DELETE: Press(ButtonAction.DELETE, walls.done_id),
            ButtonAction.CANCEL: Press(ButtonAction.CANCEL, walls.waiting_id),
        }
        assert set(presses) == set(ButtonAction)
        jobs_before = len(walls.easel.scheduler.entries())
        refusals = {}
        for action, press in presses.items():
            forged = emulator.seed_message(
                "a result that found its way into server B",
                channel=walls.channel,
                components=[
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 2, "label": "x", "custom_id": press.custom_id}
                        ],
                    }
                ],
            )
            click = await emulator.click(forged, press.custom_id, user=walls.moderator)
            if action == ButtonAction.DELETE:
                await click.wait_for_response()  # B's moderator may delete B's own message
            elif action in FORMS or action == ButtonAction.CANCEL:
                refusals[action] = await click.wait_for_original(timeout=LONG)
            else:
                refusals[action] = await click.wait_for_followup(timeout=LONG)
        jobs_after = len(walls.easel.scheduler.entries())
        waiting = walls.easel.scheduler.status_of(walls.waiting_id)
        stored = await walls.easel.stores.jobs.get(walls.done_id)
    assert all(message.ephemeral for message in refusals.values())
    gone = [a for a in presses if a not in (ButtonAction.DELETE, ButtonAction.CANCEL)]
    assert all("no longer available" in refusals[a].content for a in gone)
    assert "not in this server" in refusals[ButtonAction.CANCEL].content
    assert (jobs_before, jobs_after) == (2, 2)
    assert waiting == "pending"
    assert not walls.grid.deleted
    assert stored is not None
    assert stored.status == "done"


async def test_a_form_answered_in_another_server_reaches_none_of_its_jobs(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Submit forms naming server A's job from server B (forged): refused, nothing queued."""
    async with walled(emulator, tiny_engine, tiny_model_dir, tmp_path) as walls:
        jobs_before = len(walls.easel.scheduler.entries())
        refusals = []
        forms = ((zoom_form, {"zoom": "2"}), (region_form, {"cells": ["4"]}))
        for form, answers in forms:
            opened = await emulator.invoke_slash(
                "help", {}, channel=walls.channel, user=walls.moderator
            )
            await opened.wait_for_response()
            opened.modal = form(walls.done_id, "a forged prompt").to_dict()
            submitted = await emulator.submit_modal(
                opened,
                answers,  # type: ignore[arg-type]
                user=walls.moderator,
            )
            refusals.append(await submitted.wait_for_followup(timeout=LONG))
        jobs_after = len(walls.easel.scheduler.entries())
    assert all(message.ephemeral for message in refusals)
    assert all("no longer available" in message.content for message in refusals)
    assert all(not leaks(walls, message.content) for message in refusals)
    assert jobs_before == jobs_after
