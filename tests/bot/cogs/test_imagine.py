"""/imagine, /info and /queue through the real discord.py client and the emulator."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import discord
from PIL import Image

from tests.bot.harness import bot_config, is_result, running_easel
from tests.fakediscord.interactions import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE
from tests.fakediscord.models import Upload
from tests.pipeline.faulty_engine import FaultyEngine

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import MessageRecord

LONG = 30


def png_bytes(
    size: tuple[int, int] = (32, 32), colour: tuple[int, int, int] = (0, 0, 255)
) -> bytes:
    """Return a solid PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def downloads(emulator: DiscordEmulator) -> list[str]:
    """Return the attachment downloads the bot made from the emulator's CDN."""
    return [r.path for r in emulator.state.requests if "/attachments/" in r.path]


async def test_imagine_defers_then_shows_the_grid_with_ten_buttons(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Acknowledge at once, then complete the same message with one grid image and 10 buttons."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle --seed 3"})
        message = await handle.wait_for_original(is_result, timeout=LONG)
    # In time: the emulator answers a response later than Discord's 3 s with 10062.
    assert handle.callback is not None
    assert handle.callback.type == DEFERRED_CHANNEL_MESSAGE
    (image,) = message.attachments
    assert image.content_type == "image/png"
    assert Image.open(io.BytesIO(image.data)).size == (64, 64)
    labels = [button.get("label") or button["emoji"]["name"] for button in message.buttons()]
    assert labels == ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4", "🗑️"]
    assert "a red circle" in message.content
    assert f"<@{emulator.member.user.id}>" in message.content
    emulator.assert_no_errors()


async def test_progress_edits_one_message_at_most_every_two_seconds_with_previews(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Show progress and small previews in the job's own message, one edit per 2 s at most."""
    slow = FaultyEngine(tiny_engine, step_delay=0.5)
    config = bot_config(tmp_path, tiny_model_dir, generation={"preview_every": 2})
    async with running_easel(emulator, tiny_engine, config, queue_engine=slow):
        handle = await emulator.invoke_slash("imagine", {"prompt": "slow --steps 12"})
        message = await handle.wait_for_original(is_result, timeout=LONG)
    middle = list(message.versions[1:-1])
    assert any("Drawing" in v.content and "%" in v.content for v in middle)
    previews = [a for v in middle for a in v.attachments if a.filename == "preview.jpg"]
    assert previews
    assert Image.open(io.BytesIO(previews[0].data)).size[0] <= 256
    # 12 steps of at least 0.5 s give at least 12 progress events; one edit per 2 s allows
    # at most one edit per 4 of them. Counting edits, not timing them, keeps a loaded
    # machine from failing this.
    assert slow.last_steps == [12]
    assert len(middle) <= 12 // 4 + 1
    emulator.assert_no_errors()


async def test_image_prompt_runs_img2img_from_the_attachment(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Download, check and use an attached image as the starting point."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)) as easel:
        upload = Upload("start.png", png_bytes((64, 32)), content_type="image/png")
        handle = await emulator.invoke_slash("imagine", {"prompt": "a red circle", "image": upload})
        message = await handle.wait_for_original(is_result, timeout=LONG)
        job_id = message.custom_ids()[0].split(":")[2]
        job = await easel.stores.jobs.get(job_id)
    assert job is not None
    assert job.request.operation == "img2img"
    assert job.request.init_image is not None
    assert job.request.init_image.parent == tmp_path / "inputs"
    assert job.request.width == 2 * job.request.height
    emulator.assert_no_errors()


async def test_bad_parameters_get_an_ephemeral_error_without_a_placeholder(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Answer a malformed parameter privately, naming it, and post nothing public."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox --ar 16x9"})
        message = await handle.wait_for_original()
    assert handle.callback is not None
    assert handle.callback.type == CHANNEL_MESSAGE
    assert message.ephemeral
    assert "--ar" in message.content
    emulator.assert_no_errors()


async def test_a_non_image_attachment_is_refused_before_acknowledging(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse an attachment Discord reports as not an image, privately."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        upload = Upload("notes.txt", b"hello", content_type="text/plain")
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox", "image": upload})
        message = await handle.wait_for_original()
    assert handle.callback is not None
    assert handle.callback.type == CHANNEL_MESSAGE  # the answer itself, not a "thinking" defer
    assert message.ephemeral
    assert "PNG, JPEG or WebP" in message.content
    assert not downloads(emulator)


async def test_a_damaged_image_is_refused_and_the_placeholder_removed(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Take back the public placeholder and explain privately when the image cannot decode."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        truncated = png_bytes((64, 64))[:60]
        upload = Upload("broken.png", truncated, content_type="image/png")
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox", "image": upload})
        followup = await handle.wait_for_followup(timeout=LONG)
    assert handle.original is not None
    assert handle.original.deleted
    assert followup.ephemeral
    assert "damaged" in followup.content
    emulator.assert_no_errors()


async def test_an_oversized_attachment_is_refused_from_its_declared_size(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refuse an attachment over the byte limit without downloading it."""
    config = bot_config(tmp_path, tiny_model_dir, input_images={"max_bytes": 2048})
    async with running_easel(emulator, tiny_engine, config):
        upload = Upload("big.png", b"\x89PNG" + bytes(4096), content_type="image/png")
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox", "image": upload})
        message = await handle.wait_for_original()
    assert message.ephemeral
    assert "limit" in message.content
    assert not downloads(emulator)


async def test_the_three_second_deadline_holds_while_the_worker_is_busy(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Acknowledge a new /imagine at once while another job occupies the engine."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held):
        first = await emulator.invoke_slash("imagine", {"prompt": "busy --steps 8"})
        await asyncio.to_thread(held.holding.wait, LONG)
        second = await emulator.invoke_slash("imagine", {"prompt": "meanwhile"})
        await second.wait_for_response()
        queued = await second.wait_for_original(lambda m: "position 1" in m.content, timeout=LONG)
        held.release()
        await first.wait_for_original(is_result, timeout=LONG)
        await second.wait_for_original(is_result, timeout=LONG)
    # In time: a response later than Discord's 3 s would be a 10062 error, which fails
    # assert_no_errors below; how long acknowledgements take is benchmarks/ack_latency.py's.
    assert second.callback is not None
    assert second.callback.type == DEFERRED_CHANNEL_MESSAGE
    assert "Queued" in queued.versions[1].content
    emulator.assert_no_errors()


async def test_a_failing_job_says_failed_and_why_in_its_own_message(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Tell the owner in the job's message, with the word failed and the reason."""
    faulty = FaultyEngine(tiny_engine, fail_prompts={"cursed"})
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=faulty):
        handle = await emulator.invoke_slash("imagine", {"prompt": "cursed"})
        message = await handle.wait_for_original(lambda m: "failed" in m.content, timeout=LONG)
    assert "reference" in message.content
    assert not message.custom_ids()


async def test_one_user_can_queue_five_jobs(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Accept at least five jobs from one user under the default limits."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held):
        handles = [await emulator.invoke_slash("imagine", {"prompt": "job 0"})]
        await asyncio.to_thread(held.holding.wait, LONG)
        for index in range(1, 5):
            handles.append(await emulator.invoke_slash("imagine", {"prompt": f"job {index}"}))
        for handle in handles[1:]:
            await handle.wait_for_original(lambda m: "Queued" in m.content, timeout=LONG)
        held.release()
        for handle in handles:
            await handle.wait_for_original(is_result, timeout=LONG)
    emulator.assert_no_errors()


async def imagine_with_info(
    emulator: DiscordEmulator, prompt: str
) -> tuple[MessageRecord, MessageRecord]:
    """Draw ``prompt`` and ask /info of its job; return the grid's message and the answer."""
    handle = await emulator.invoke_slash("imagine", {"prompt": prompt})
    message = await handle.wait_for_original(is_result, timeout=LONG)
    job_id = message.custom_ids()[0].split(":")[2]
    info = await emulator.invoke_slash("info", {"job": job_id})
    return message, await info.wait_for_original()


def fields_of(message: MessageRecord) -> dict[str, str]:
    """Return the first embed's fields by name."""
    return {field["name"]: field["value"] for field in message.embeds[0]["fields"]}


async def test_info_shows_the_parameters_and_seeds_privately(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Answer /info with every parameter needed to reproduce the job."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        _, shown = await imagine_with_info(emulator, "a fox --seed 41 --no snow")
        unknown = await emulator.invoke_slash("info", {"job": "nope"})
        refusal = await unknown.wait_for_original()
    assert shown.ephemeral
    fields = fields_of(shown)
    assert fields["Seeds"] == "41 42 43 44"
    assert fields["Negative"] == "snow"
    assert fields["Model"] == "tiny-sd"
    assert fields["PNG Info"].startswith("```a fox\nNegative prompt: snow\nSteps: 4, Sampler:")
    assert refusal.ephemeral
    assert "no job" in refusal.content.lower()


async def test_a_fast_grid_says_so_under_it_and_in_info(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Mark a --fast grid in its parameter line, /info and the PNG Info text."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        message, shown = await imagine_with_info(emulator, "a fox --seed 41 --fast")
    fields = fields_of(shown)
    assert "· fast" in message.content
    assert fields["Fast"] == "yes (step cache)"
    assert "Step cache: True" in fields["PNG Info"]


async def test_queue_lists_the_callers_jobs_with_cancel_buttons(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """List running and waiting jobs; the cancel button cancels a waiting one."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held):
        running = await emulator.invoke_slash("imagine", {"prompt": "first"})
        await asyncio.to_thread(held.holding.wait, LONG)
        waiting = await emulator.invoke_slash("imagine", {"prompt": "second"})
        await waiting.wait_for_original(lambda m: "Queued" in m.content, timeout=LONG)
        listing = await (await emulator.invoke_slash("queue")).wait_for_original()
        assert listing.ephemeral
        assert "1 running, 1 waiting" in listing.content
        cancel = await emulator.click(listing, listing.custom_ids()[1])
        confirmation = await cancel.wait_for_original()
        canceled = await waiting.wait_for_original(lambda m: "Canceled" in m.content, timeout=LONG)
        held.release()
        await running.wait_for_original(is_result, timeout=LONG)
    assert confirmation.content == "Canceled."
    assert "canceled by alice" in canceled.content.lower()
    emulator.assert_no_errors()


async def test_commands_sync_globally_and_need_no_privileged_intents(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Publish /imagine, /info and /queue globally and identify without privileged intents."""
    async with running_easel(emulator, tiny_engine, bot_config(tmp_path, tiny_model_dir)):
        names = {command.name for command in emulator.global_commands}
    assert {"imagine", "info", "queue"} <= names
    assert emulator.identifies[0].privileged_intents == 0
    assert discord.Intents(emulator.identifies[0].intents).guilds


async def test_commands_sync_to_configured_guilds(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Publish the commands to the guilds listed in discord.guild_ids instead."""
    config = bot_config(tmp_path, tiny_model_dir, discord={"guild_ids": [emulator.guild.id]})
    async with running_easel(emulator, tiny_engine, config):
        names = {command.name for command in emulator.guild_commands(emulator.guild)}
        published_globally = {command.name for command in emulator.global_commands}
    assert "imagine" in names
    assert "imagine" not in published_globally


async def test_moderators_see_everyones_jobs_in_the_queue(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """List other members' jobs, with their owners, to a member with Manage Messages."""
    held = FaultyEngine(tiny_engine, hold_after_first_step=True)
    config = bot_config(tmp_path, tiny_model_dir)
    async with running_easel(emulator, tiny_engine, config, queue_engine=held):
        moderator = emulator.create_member(
            "mod", permissions=discord.Permissions(manage_messages=True)
        )
        first = await emulator.invoke_slash("imagine", {"prompt": "alice's"})
        await asyncio.to_thread(held.holding.wait, LONG)
        mine = await (await emulator.invoke_slash("queue", user=moderator)).wait_for_original()
        theirs = await (await emulator.invoke_slash("queue")).wait_for_original()
        held.release()
        await first.wait_for_original(is_result, timeout=LONG)
    assert "alice's" in mine.content
    assert f"<@{emulator.member.user.id}>" in mine.content
    assert "alice's" in theirs.content
    assert "<@" not in theirs.content


async def test_a_style_is_named_in_info_and_its_text_kept_hidden(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Say in /info that a style drew the job; show its hidden text nowhere."""
    styles = {"dreamy": {"prompt": "{prompt}, secret sauce", "negative": "hidden thing"}}
    config = bot_config(tmp_path, tiny_model_dir, styles=styles)
    async with running_easel(emulator, tiny_engine, config):
        message, shown = await imagine_with_info(emulator, "a fox --style dreamy")
    fields = fields_of(shown)
    assert fields["Style"] == "dreamy"
    everything = message.content + str(shown.embeds) + str(message.attachments[0].data)
    assert "secret sauce" not in everything
    assert "hidden thing" not in everything


async def test_info_shows_a_styles_text_where_the_server_allows_it(
    emulator: DiscordEmulator, tiny_engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Show the drawn text of a style in /info when discord.show_style_text is on."""
    styles = {"dreamy": {"prompt": "{prompt}, secret sauce", "negative": "hidden thing"}}
    config = bot_config(tmp_path, tiny_model_dir, styles=styles, discord={"show_style_text": True})
    async with running_easel(emulator, tiny_engine, config):
        _, shown = await imagine_with_info(emulator, "a fox --style dreamy")
    fields = fields_of(shown)
    assert fields["Style text"] == "a fox, secret sauce"
    assert fields["Style negative"] == "hidden thing"
