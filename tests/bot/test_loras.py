"""LoRAs through the bot: /loras, the lora option, --lora, buttons, and what Discord receives."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from pipeline.lora_syntax import LoraUse
from pipeline.metadata import read_parameters
from tests.bot.harness import bot_config, is_result, running_easel

if TYPE_CHECKING:
    from pathlib import Path

    from bot.config import BotConfig
    from pipeline.engine import Engine
    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.models import MessageRecord

LONG = 60


@pytest.fixture
def with_loras(tmp_path: Path, tiny_model_dir: Path, lora_dir: Path) -> BotConfig:
    """Configure the tiny SD model with the session's tiny LoRAs."""
    return bot_config(tmp_path, tiny_model_dir, loras={"dir": str(lora_dir)})


def job_of(message: MessageRecord) -> str:
    """Return the job id carried by a result's buttons."""
    return message.custom_ids()[0].split(":")[2]


async def imagine(emulator: DiscordEmulator, prompt: str, **options: str) -> MessageRecord:
    """Run /imagine and return the finished grid message."""
    handle = await emulator.invoke_slash("imagine", {"prompt": prompt, **options})
    return await handle.wait_for_original(is_result, timeout=LONG)


async def test_loras_lists_each_with_its_family_and_trigger_words(
    emulator: DiscordEmulator, tiny_engine: Engine, with_loras: BotConfig
) -> None:
    """List every LoRA privately, with the family it fits and its trigger words."""
    async with running_easel(emulator, tiny_engine, with_loras):
        reply = await (await emulator.invoke_slash("loras")).wait_for_original()
    text = reply.embeds[0]["description"]
    assert reply.ephemeral
    assert "**sd-ink** · Stable Diffusion 1/2 · triggers: `inked`, `bold lines`" in text
    assert "**xl-ink** · SDXL" in text
    assert "**flux-ink** · FLUX.1" in text


async def test_loras_for_a_model_leaves_out_other_families(
    emulator: DiscordEmulator, tiny_engine: Engine, with_loras: BotConfig
) -> None:
    """List only the LoRAs that fit the model asked about."""
    model = with_loras.default_model.label
    async with running_easel(emulator, tiny_engine, with_loras):
        handle = await emulator.invoke_slash("loras", {"model": model})
        text = (await handle.wait_for_original()).embeds[0]["description"]
    assert "sd-ink" in text
    assert "xl-ink" not in text
    assert "flux-ink" not in text


async def test_the_lora_option_draws_with_it_and_the_png_says_so(
    emulator: DiscordEmulator, tiny_engine: Engine, with_loras: BotConfig
) -> None:
    """Queue the option's LoRA, and read it back from the PNG Discord received."""
    async with running_easel(emulator, tiny_engine, with_loras) as easel:
        grid = await imagine(emulator, "a fox --seed 2", lora="sd-ink")
        job = await easel.stores.jobs.get(job_of(grid))
    assert job is not None
    assert job.request.loras == (LoraUse("sd-ink"),)
    parameters = read_parameters(Image.open(io.BytesIO(grid.attachments[0].data)))
    assert parameters is not None
    assert parameters.startswith("a fox <lora:sd-ink:1>")
    assert 'Lora weights: "sd-ink: 1"' in parameters
    emulator.assert_no_errors()


async def test_buttons_keep_the_jobs_loras(
    emulator: DiscordEmulator, tiny_engine: Engine, with_loras: BotConfig
) -> None:
    """Press U1, V1 and 🔄 on a grid drawn with two LoRAs; every new job keeps them."""
    async with running_easel(emulator, tiny_engine, with_loras) as easel:
        grid = await imagine(emulator, "a fox <lora:sd-ink:0.7> --lora sd-blur:-0.5")
        jobs = []
        for custom_id in (f"easel:u:{job_of(grid)}:1", f"easel:v:{job_of(grid)}:1"):
            click = await emulator.click(grid, custom_id)
            done = await click.wait_for_original(is_result, timeout=LONG)
            jobs.append(await easel.stores.jobs.get(job_of(done)))
    wanted = (LoraUse("sd-ink", 0.7), LoraUse("sd-blur", -0.5))
    assert [job.request.loras if job else None for job in jobs] == [wanted, wanted]


async def test_an_unknown_lora_is_refused_privately_with_close_names(
    emulator: DiscordEmulator, tiny_engine: Engine, with_loras: BotConfig
) -> None:
    """Refuse an unknown LoRA before queueing, suggesting the names it is close to."""
    async with running_easel(emulator, tiny_engine, with_loras) as easel:
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox --lora sd-inc"})
        reply = await handle.wait_for_original()
        waiting = easel.scheduler.waiting + easel.scheduler.running
    assert reply.ephemeral
    assert "no LoRA called 'sd-inc'" in reply.content
    assert "Did you mean sd-ink" in reply.content
    assert waiting == 0


async def test_a_lora_of_another_family_is_refused_privately(
    emulator: DiscordEmulator, tiny_engine: Engine, with_loras: BotConfig
) -> None:
    """Refuse an SDXL LoRA on the SD model, by name."""
    async with running_easel(emulator, tiny_engine, with_loras):
        handle = await emulator.invoke_slash("imagine", {"prompt": "a fox", "lora": "xl-ink"})
        reply = await handle.wait_for_original()
    assert reply.ephemeral
    assert "`xl-ink` is an SDXL LoRA" in reply.content


async def test_the_lora_option_autocompletes_names_with_families(
    emulator: DiscordEmulator, tiny_engine: Engine, with_loras: BotConfig
) -> None:
    """Offer the LoRA names containing what was typed."""
    async with running_easel(emulator, tiny_engine, with_loras):
        handle = await emulator.autocomplete("imagine", {"prompt": "a fox", "lora": "ink"}, "lora")
        answer = await handle.wait_for_response()
    names = [choice["value"] for choice in answer.data["choices"]]
    assert names == ["flux-ink", "sd-ink", "sd-ink-kohya", "xl-ink"]
